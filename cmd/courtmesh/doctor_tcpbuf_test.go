package main

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"
)

// doctor says when TCP's buffer maxima cap the court's link, and which
// sysctl values to set.
func TestDoctorTCPBuffers(t *testing.T) {
	debian := map[string]string{"net.ipv4.tcp_wmem": "4096\t16384\t4194304", "net.ipv4.tcp_rmem": "4096\t131072\t6291456"}
	raised := map[string]string{"net.ipv4.tcp_wmem": "4096 16384 67108864", "net.ipv4.tcp_rmem": "4096 131072 67108864"}
	for _, c := range []struct {
		name     string
		sysctls  map[string]string
		mbit     float64
		rtt      time.Duration
		want     []string
		warnings int
	}{
		{"1 Gbit/s 50 ms, Debian's defaults", debian, 1000, 50 * time.Millisecond,
			[]string{"! TCP buffers cap a dossier fetch below the link (1000 Mbit/s at 50ms round trip)", "net.ipv4.tcp_wmem maximum 4.0 MiB caps one connection at 42 MB/s", "net.ipv4.tcp_rmem maximum 6.0 MiB caps one connection at 63 MB/s",
				`sysctl -w net.ipv4.tcp_wmem="4096 16384 67108864" net.ipv4.tcp_rmem="4096 131072 67108864"`}, 1},
		{"100 Mbit/s 30 ms, Debian's defaults", debian, 100, 30 * time.Millisecond, []string{"✓ TCP buffers let one connection fill 100 Mbit/s at 30ms round trip"}, 0},
		{"1 Gbit/s 200 ms, raised", raised, 1000, 200 * time.Millisecond, []string{"✓ TCP buffers let one connection fill 1000 Mbit/s at 200ms"}, 0},
		{"unreadable", map[string]string{}, 1000, 50 * time.Millisecond, []string{"! net.ipv4.tcp_wmem: not found"}, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out bytes.Buffer
			k := &checkup{c: &cli{stdout: &out, stderr: &out}}
			read := func(key string) (string, error) {
				v, ok := c.sysctls[key]
				if !ok {
					return "", fmt.Errorf("not found")
				}
				return v, nil
			}
			k.tcpBuffers(read, c.mbit*1e6/8, c.rtt)
			for _, w := range c.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("doctor printed %q, want %q in it", out.String(), w)
				}
			}
			if k.warnings != c.warnings || k.failures != 0 {
				t.Errorf("%d warnings, %d failures; want %d warnings", k.warnings, k.failures, c.warnings)
			}
		})
	}
}
