package securitytest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"golang.org/x/crypto/bcrypt"
)

type certKey struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

var serial int64 = 100

// mkCert writes <name>.pem and <name>-key.pem into dir, signed by ca (self
// signed when ca is nil).
func mkCert(t *testing.T, dir, name string, ca *certKey, tmpl *x509.Certificate) *certKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial++
	tmpl.SerialNumber = big.NewInt(serial)
	tmpl.NotBefore = time.Now().Add(-time.Hour)
	tmpl.NotAfter = time.Now().Add(24 * time.Hour)
	parent, signer := tmpl, key
	if ca != nil {
		parent, signer = ca.cert, ca.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, signer)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	kb, _ := x509.MarshalECPrivateKey(key)
	os.WriteFile(filepath.Join(dir, name+".pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	os.WriteFile(filepath.Join(dir, name+"-key.pem"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	return &certKey{cert, key}
}

// mkCAAndServerCert writes ca.pem and server.pem/server-key.pem (for
// 127.0.0.1, signed by the CA) into dir and returns the CA.
func mkCAAndServerCert(t *testing.T, dir string) *certKey {
	t.Helper()
	ca := mkCert(t, dir, "ca", nil, &x509.Certificate{Subject: pkix.Name{CommonName: "Test CA"}, IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature})
	mkCert(t, dir, "server", ca, &x509.Certificate{Subject: pkix.Name{CommonName: "server"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature})
	return ca
}

func TestTLSVerifyAndMap(t *testing.T) {
	dir := t.TempDir()
	ca := mkCAAndServerCert(t, dir)
	client := func(name string, subj pkix.Name, emails []string) {
		mkCert(t, dir, name, ca, &x509.Certificate{Subject: subj, EmailAddresses: emails,
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, KeyUsage: x509.KeyUsageDigitalSignature})
	}
	client("alice", pkix.Name{CommonName: "alice"}, []string{"alice@acme.test"})
	client("bob", pkix.Name{CommonName: "bob", Organization: []string{"Acme"}}, nil)
	client("eve", pkix.Name{CommonName: "eve", Organization: []string{"Acme"}}, []string{"eve@acme.test"})
	// a certificate with a mapped name but from another CA
	rogue := mkCert(t, dir, "rogue-ca", nil, &x509.Certificate{Subject: pkix.Name{CommonName: "Rogue CA"}, IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign})
	mkCert(t, dir, "fake-alice", rogue, &x509.Certificate{Subject: pkix.Name{CommonName: "alice"},
		EmailAddresses: []string{"alice@acme.test"}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		KeyUsage: x509.KeyUsageDigitalSignature})

	f := func(n string) string { return filepath.Join(dir, n) }
	s := StartServerIn(t, dir, fmt.Sprintf(`tls { cert_file: %q, key_file: %q, ca_file: %q, verify_and_map: true, timeout: 2 }
authorization { %s
  users: [
    { user: "alice@acme.test", permissions: { publish: "a.>", subscribe: ">" } }
    { user: "CN=bob,O=Acme" }
  ]
}`, f("server.pem"), f("server-key.pem"), f("ca.pem"), fastFail()))
	as := func(name string, extra ...nats.Option) []nats.Option {
		return append([]nats.Option{nats.RootCAs(f("ca.pem")), nats.ClientCert(f(name+".pem"), f(name+"-key.pem"))}, extra...)
	}
	alice := Connect(t, s, "alice", as("alice")...)
	_, ch := ChanSub(t, alice, ">", "")
	alice.Flush(t)
	alice.Publish("a.x", nil)
	alice.Flush(t)
	Recv(t, ch, 2*time.Second)
	alice.Publish("b.x", nil)
	alice.ExpectErr(t, pubErr("b.x"), 2*time.Second)
	bob := Connect(t, s, "bob", as("bob")...)
	bob.Publish("b.x", nil) // bob: no permissions set, everything allowed
	settle(t, bob, alice)
	if m := Recv(t, ch, 2*time.Second); m.Subject != "b.x" {
		t.Fatalf("got %s", m.Subject)
	}
	ExpectAuthFail(t, s, "unmapped certificate", as("eve")...)
	if isHerald() {
		// Herald: a CONNECT user must be one of the certificate's identities
		ExpectAuthFail(t, s, "alice's cert claiming bob", as("alice", nats.UserInfo("CN=bob,O=Acme", ""))...)
	}
	// certificates the server does not verify never get in
	c, err := TryConnect(s, "fake alice", as("fake-alice")...)
	if err == nil {
		c.Close()
		t.Fatal("certificate from a rogue CA accepted")
	}
	t.Logf("rogue-CA client: %v", err)
	c, err = TryConnect(s, "no client cert", nats.RootCAs(f("ca.pem")))
	if err == nil {
		c.Close()
		t.Fatal("TLS client without a certificate accepted")
	}
	t.Logf("no-cert client: %v", err)
}

// TLS on the client port and a bcrypt user: the bcrypt check runs off the
// connection's thread (herald) and reading then resumes inside TLS.
func TestTLSWithBcryptUser(t *testing.T) {
	dir := t.TempDir()
	mkCAAndServerCert(t, dir)
	hash, err := bcrypt.GenerateFromPassword([]byte("tls-pw"), 10)
	if err != nil {
		t.Fatal(err)
	}
	f := func(n string) string { return filepath.Join(dir, n) }
	s := StartServerIn(t, dir, fmt.Sprintf(`tls { cert_file: %q, key_file: %q, timeout: 2 }
authorization { %s
  users: [ { user: tom, password: %q } ]
}`, f("server.pem"), f("server-key.pem"), fastFail(), hash))
	c := Connect(t, s, "tom", nats.RootCAs(f("ca.pem")), nats.UserInfo("tom", "tls-pw"))
	_, ch := ChanSub(t, c, "tls.bcrypt", "")
	c.Flush(t)
	c.Publish("tls.bcrypt", []byte("hi"))
	c.Flush(t)
	if m := Recv(t, ch, 2*time.Second); string(m.Data) != "hi" {
		t.Fatalf("got %q", m.Data)
	}
	ExpectAuthFail(t, s, "tom wrong pw", nats.RootCAs(f("ca.pem")), nats.UserInfo("tom", "nope"))
}
