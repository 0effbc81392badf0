package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestConfigOverride(t *testing.T) {
	env := map[string]string{
		"COURTMESH_API_LISTEN":    "127.0.0.1:9999",
		"COURTMESH_BOOTSTRAP":     "/ip4/10.0.0.1/tcp/4701/p2p/A, /ip4/10.0.0.2/tcp/4701/p2p/B",
		"COURTMESH_SYNC_INTERVAL": "5s",
		"COURTMESH_LOG_FORMAT":    "json",
	}
	c := Config{Version: 1}.WithDefaults()
	if err := c.Override(func(k string) string { return env[k] }, []string{"log_format=text", "acceptance_days=10"}); err != nil {
		t.Fatal(err)
	}
	if c.APIListen != "127.0.0.1:9999" || len(c.Bootstrap) != 2 || c.SyncInterval.Duration != 5*time.Second {
		t.Errorf("environment not applied: %+v", c)
	}
	if c.LogFormat != "text" || c.AcceptanceDays != 10 {
		t.Errorf("flags must win over the environment: %+v", c)
	}
	for _, bad := range [][]string{{"nosuchkey=1"}, {"acceptance_days=seven"}, {"sync_interval=soon"}, {"version=2"}, {"listen"}} {
		c := Config{Version: 1}.WithDefaults()
		err := c.Override(func(string) string { return "" }, bad)
		if !errors.Is(err, ErrConfig) {
			t.Errorf("%v: err = %v, want ErrConfig", bad, err)
		}
	}
	c = Config{Version: 1}.WithDefaults()
	err := c.Override(func(k string) string {
		if k == "COURTMESH_HANDOVER_GUARD_DAYS" {
			return "x"
		}
		return ""
	}, nil)
	if err == nil || !strings.Contains(err.Error(), "COURTMESH_HANDOVER_GUARD_DAYS") {
		t.Errorf("a bad environment value must name the variable: %v", err)
	}
}
