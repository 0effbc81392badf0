package config

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ConfigKeys lists the configuration keys (the TOML names).
func ConfigKeys() []string {
	var out []string
	t := reflect.TypeOf(Config{})
	for i := range t.NumField() {
		if k := t.Field(i).Tag.Get("toml"); k != "" && k != "version" {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// EnvName is the environment variable that overrides a key:
// COURTMESH_ plus the key in upper case (COURTMESH_API_LISTEN).
func EnvName(key string) string { return "COURTMESH_" + strings.ToUpper(key) }

// Override sets configuration keys from the environment (COURTMESH_<KEY>)
// and then from sets ("key=value", e.g. from repeated --set flags), which
// win. Lists take comma-separated values. Unknown keys and bad values are
// errors that name the key.
func (c *Config) Override(getenv func(string) string, sets []string) error {
	for _, k := range ConfigKeys() {
		if v := getenv(EnvName(k)); v != "" {
			if err := c.set(k, v); err != nil {
				return fmt.Errorf("%w: %s: %v", ErrConfig, EnvName(k), err)
			}
		}
	}
	for _, kv := range sets {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return fmt.Errorf("%w: --set %q: want key=value", ErrConfig, kv)
		}
		if err := c.set(strings.TrimSpace(k), strings.TrimSpace(v)); err != nil {
			return fmt.Errorf("%w: --set %s: %v", ErrConfig, k, err)
		}
	}
	*c = c.WithDefaults()
	return nil
}

func (c *Config) set(key, val string) error {
	v := reflect.ValueOf(c).Elem()
	t := v.Type()
	for i := range t.NumField() {
		if t.Field(i).Tag.Get("toml") != key || key == "version" {
			continue
		}
		f := v.Field(i)
		switch f.Interface().(type) {
		case string:
			f.SetString(val)
		case []string:
			var parts []string
			for _, p := range strings.Split(val, ",") {
				if p = strings.TrimSpace(p); p != "" {
					parts = append(parts, p)
				}
			}
			f.Set(reflect.ValueOf(parts))
		case int:
			n, err := strconv.Atoi(val)
			if err != nil {
				return fmt.Errorf("want a whole number, got %q", val)
			}
			f.SetInt(int64(n))
		case Bytes:
			n, err := ParseBytes(val)
			if err != nil {
				return err
			}
			f.Set(reflect.ValueOf(Bytes{N: n, Set: true}))
		case Duration:
			d, err := time.ParseDuration(val)
			if err != nil {
				return fmt.Errorf("want a duration such as 30s, got %q", val)
			}
			f.Set(reflect.ValueOf(Duration{d}))
		default:
			return fmt.Errorf("key %s cannot be overridden", key)
		}
		return nil
	}
	return fmt.Errorf("unknown key %q (known: %s)", key, strings.Join(ConfigKeys(), ", "))
}
