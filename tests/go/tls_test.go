package heraldtest

// TLS on the client port with the official Go client: server-only TLS,
// mutual TLS (valid, missing, wrong-CA and expired client certificates), and
// verify_and_map (the certificate names the user). Certificates are made by
// the test with the openssl CLI.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

type certs struct {
	dir string
}

func (c certs) path(name string) string { return filepath.Join(c.dir, name) }

func openssl(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("openssl", args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("openssl %v: %v\n%s", args, err, out)
	}
}

// makeCerts creates ca, server (127.0.0.1/localhost), alice (email SAN),
// expired, and a client signed by another CA ("rogue").
func makeCerts(t *testing.T) certs {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl CLI not installed")
	}
	dir := t.TempDir()
	key := []string{"-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"}
	ca := func(name string) {
		openssl(t, dir, append(append([]string{"req", "-x509"}, key...),
			"-keyout", name+".key", "-out", name+".pem", "-days", "30", "-subj", "/CN="+name)...)
	}
	ca("ca")
	ca("otherca")
	leaf := func(name, subj, san, signer, days string) {
		openssl(t, dir, append(append([]string{"req"}, key...),
			"-keyout", name+".key", "-out", name+".csr", "-subj", subj)...)
		ext := filepath.Join(dir, name+".ext")
		if err := os.WriteFile(ext, []byte("subjectAltName="+san+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		openssl(t, dir, "x509", "-req", "-in", name+".csr", "-CA", signer+".pem", "-CAkey",
			signer+".key", "-CAcreateserial", "-out", name+".pem", "-days", days, "-extfile", ext)
	}
	leaf("server", "/CN=localhost", "IP:127.0.0.1,DNS:localhost", "ca", "30")
	leaf("alice", "/CN=alice/O=Acme", "email:alice@example.com", "ca", "30")
	leaf("bob", "/CN=bob/O=Acme", "email:bob@example.com", "ca", "30")
	leaf("expired", "/CN=old", "email:old@example.com", "ca", "-1")
	leaf("rogue", "/CN=rogue", "email:alice@example.com", "otherca", "30")
	return certs{dir}
}

func tlsConf(c certs, extra string) string {
	return fmt.Sprintf("tls {\n  cert_file: %q\n  key_file: %q\n  ca_file: %q\n  timeout: 2\n%s}\n",
		c.path("server.pem"), c.path("server.key"), c.path("ca.pem"), extra)
}

func pubSubRoundTrip(t *testing.T, nc *nats.Conn) {
	t.Helper()
	sub, err := nc.SubscribeSync("tls.check")
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Publish("tls.check", []byte("secret")); err != nil {
		t.Fatal(err)
	}
	m, err := sub.NextMsg(3 * time.Second)
	if err != nil || string(m.Data) != "secret" {
		t.Fatalf("round trip over TLS: %v %v", m, err)
	}
}

func TestTLSServerOnly(t *testing.T) {
	c := makeCerts(t)
	s := StartServer(t, tlsConf(c, ""))
	// A plaintext client is refused (the server requires TLS).
	if nc, err := nats.Connect(s.URL(), nats.Timeout(2*time.Second), nats.NoReconnect()); err == nil {
		nc.Close()
		t.Fatal("plaintext client connected to a TLS-only server")
	}
	nc, err := nats.Connect(s.URL(), nats.RootCAs(c.path("ca.pem")), nats.Timeout(3*time.Second))
	if err != nil {
		t.Fatalf("TLS connect: %v", err)
	}
	defer nc.Close()
	if !nc.TLSRequired() {
		t.Fatal("INFO did not say tls_required")
	}
	pubSubRoundTrip(t, nc)
	// A client that does not trust the server's CA fails the handshake.
	if nc2, err := nats.Connect(s.URL(), nats.RootCAs(c.path("otherca.pem")),
		nats.Timeout(2*time.Second), nats.NoReconnect()); err == nil {
		nc2.Close()
		t.Fatal("client accepted a server certificate from an untrusted CA")
	}
}

func TestTLSMutual(t *testing.T) {
	c := makeCerts(t)
	s := StartServer(t, tlsConf(c, "  verify: true\n"))
	connect := func(cert string) (*nats.Conn, error) {
		opts := []nats.Option{nats.RootCAs(c.path("ca.pem")), nats.Timeout(3 * time.Second),
			nats.NoReconnect()}
		if cert != "" {
			opts = append(opts, nats.ClientCert(c.path(cert+".pem"), c.path(cert+".key")))
		}
		return nats.Connect(s.URL(), opts...)
	}
	nc, err := connect("alice")
	if err != nil {
		t.Fatalf("valid client certificate refused: %v", err)
	}
	pubSubRoundTrip(t, nc)
	nc.Close()
	for _, bad := range []string{"", "rogue", "expired"} {
		if nc, err := connect(bad); err == nil {
			// Depending on TLS 1.3 timing the failure may surface on first use.
			if ferr := nc.FlushTimeout(2 * time.Second); ferr == nil {
				nc.Close()
				t.Fatalf("client certificate %q accepted", bad)
			}
			nc.Close()
		}
	}
}

func TestTLSVerifyAndMap(t *testing.T) {
	c := makeCerts(t)
	conf := tlsConf(c, "  verify_and_map: true\n") +
		"authorization {\n  users = [\n    {user: \"alice@example.com\"}\n  ]\n}\n"
	s := StartServer(t, conf)
	nc, err := nats.Connect(s.URL(), nats.RootCAs(c.path("ca.pem")),
		nats.ClientCert(c.path("alice.pem"), c.path("alice.key")), nats.Timeout(3*time.Second))
	if err != nil {
		t.Fatalf("mapped certificate refused: %v", err)
	}
	pubSubRoundTrip(t, nc)
	nc.Close()
	// bob's certificate is valid but names no configured user.
	_, err = nats.Connect(s.URL(), nats.RootCAs(c.path("ca.pem")),
		nats.ClientCert(c.path("bob.pem"), c.path("bob.key")), nats.Timeout(3*time.Second),
		nats.NoReconnect())
	if err == nil || !strings.Contains(strings.ToLower(err.Error()), "authorization violation") {
		t.Fatalf("unmapped certificate: want authorization violation, got %v", err)
	}
}

// SIGHUP re-reads certificates: a connection made with the old certificate
// keeps working, new connections get the new one.
func TestTLSReloadCertificates(t *testing.T) {
	c := makeCerts(t)
	// A second server certificate, signed by the other CA.
	key := []string{"-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"}
	openssl(t, c.dir, append(append([]string{"req"}, key...),
		"-keyout", "server2.key", "-out", "server2.csr", "-subj", "/CN=localhost")...)
	openssl(t, c.dir, "x509", "-req", "-in", "server2.csr", "-CA", "otherca.pem", "-CAkey",
		"otherca.key", "-CAcreateserial", "-out", "server2.pem", "-days", "30", "-extfile",
		"server.ext")
	s := StartServer(t, tlsConf(c, ""))
	old, err := nats.Connect(s.URL(), nats.RootCAs(c.path("ca.pem")), nats.Timeout(3*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	rotated := fmt.Sprintf("tls {\n  cert_file: %q\n  key_file: %q\n  timeout: 2\n}\n",
		c.path("server2.pem"), c.path("server2.key"))
	if err := os.WriteFile(filepath.Join(s.Dir, "server.conf"), []byte(rotated), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "new certificate served", func() bool {
		nc, err := nats.Connect(s.URL(), nats.RootCAs(c.path("otherca.pem")),
			nats.Timeout(time.Second), nats.NoReconnect())
		if err != nil {
			return false
		}
		nc.Close()
		return true
	})
	if nc, err := nats.Connect(s.URL(), nats.RootCAs(c.path("ca.pem")),
		nats.Timeout(2*time.Second), nats.NoReconnect()); err == nil {
		nc.Close()
		t.Fatal("old certificate still served after reload")
	}
	// The connection made before the reload is untouched.
	pubSubRoundTrip(t, old)
}
