package main

// Pinning a client connection to one node. nats.go (1.22) adds the servers a
// node advertises (INFO connect_urls) to every connection's pool, even one
// made with a single URL, and after its node is killed a connection fails
// over to another node and stays there when its own node returns. So "the
// prober's connection to n1" could be on n2, and when n2 was then paused the
// probes sent "through n1" waited for n2's SIGCONT: the publish gap measured
// was the pause length (seen in mixed runs: 2.5-4.9 s after a pause of the
// node the others had failed over to), not the server's failover time.

import (
	"net"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
)

// pinDialer dials its node's address whatever server of the pool nats.go
// picks, so a connection reconnects only to its own node.
type pinDialer struct{ addr string }

func (d pinDialer) Dial(network, _ string) (net.Conn, error) {
	return net.DialTimeout(network, d.addr, 2*time.Second)
}

// pinnedTo: the option that keeps a connection on node n.
func pinnedTo(n *Node) nats.Option {
	return nats.SetCustomDialer(pinDialer{addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(n.ClientPort))})
}
