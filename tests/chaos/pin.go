package main

// Connections that must stay on one node (the prober's per-node
// connections, the admin connections, the checker's per-replica readers):
// nats.go also reconnects to servers it learned from INFO (connect_urls), so
// a connection made to node X could, after X restarted, be served by Y and
// a probe "through X" would really go through Y (seen in a mixed netns run:
// minority-side probes acknowledged through a connection that had moved to
// the majority after an earlier kill). nats.go 1.22 has no option to ignore
// discovered servers; a dialer that always dials X's address pins it.

import (
	"net"
	"net/url"
	"time"

	"github.com/nats-io/nats.go"
)

type pinnedDialer struct{ addr string }

func (d pinnedDialer) Dial(network, _ string) (net.Conn, error) {
	return net.DialTimeout(network, d.addr, 2*time.Second)
}

// pinURL: every (re)connect of this connection goes to the host:port of u.
func pinURL(u string) nats.Option {
	addr := u
	if p, err := url.Parse(u); err == nil && p.Host != "" {
		addr = p.Host
	}
	return nats.SetCustomDialer(pinnedDialer{addr: addr})
}
