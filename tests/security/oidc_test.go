package securitytest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

const (
	testIssuer   = "https://idp.test/realms/acme"
	testAudience = "herald"
)

var b64 = base64.RawURLEncoding

type idp struct {
	rsa, rogue *rsa.PrivateKey
	ec         *ecdsa.PrivateKey
}

func newIdP(t *testing.T) *idp {
	t.Helper()
	r, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rogue, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	e, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &idp{rsa: r, rogue: rogue, ec: e}
}

func pad32(b []byte) []byte {
	out := make([]byte, 32)
	copy(out[32-len(b):], b)
	return out
}

// jwks is the IdP's key set: the RSA key "rsa1" and the EC key "ec1"
// (never the rogue key).
func (p *idp) jwks() string {
	keys := []map[string]string{
		{"kty": "RSA", "kid": "rsa1", "use": "sig", "alg": "RS256",
			"n": b64.EncodeToString(p.rsa.N.Bytes()),
			"e": b64.EncodeToString(big.NewInt(int64(p.rsa.E)).Bytes())},
		{"kty": "EC", "kid": "ec1", "use": "sig", "crv": "P-256",
			"x": b64.EncodeToString(pad32(p.ec.X.Bytes())),
			"y": b64.EncodeToString(pad32(p.ec.Y.Bytes()))},
	}
	b, _ := json.Marshal(map[string]interface{}{"keys": keys})
	return string(b)
}

// sign makes a compact JWS; key is *rsa.PrivateKey (RS256),
// *ecdsa.PrivateKey (ES256), []byte (HS256) or nil (alg "none").
func sign(t *testing.T, kid string, key interface{}, claims map[string]interface{}) string {
	t.Helper()
	hdr := map[string]string{"typ": "JWT"}
	if kid != "" {
		hdr["kid"] = kid
	}
	switch key.(type) {
	case *rsa.PrivateKey:
		hdr["alg"] = "RS256"
	case *ecdsa.PrivateKey:
		hdr["alg"] = "ES256"
	case []byte:
		hdr["alg"] = "HS256"
	default:
		hdr["alg"] = "none"
	}
	h, _ := json.Marshal(hdr)
	c, _ := json.Marshal(claims)
	input := b64.EncodeToString(h) + "." + b64.EncodeToString(c)
	digest := sha256.Sum256([]byte(input))
	var sig []byte
	switch k := key.(type) {
	case *rsa.PrivateKey:
		s, err := rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, digest[:])
		if err != nil {
			t.Fatal(err)
		}
		sig = s
	case *ecdsa.PrivateKey:
		r, s, err := ecdsa.Sign(rand.Reader, k, digest[:])
		if err != nil {
			t.Fatal(err)
		}
		sig = append(pad32(r.Bytes()), pad32(s.Bytes())...)
	case []byte:
		m := hmac.New(sha256.New, k)
		m.Write([]byte(input))
		sig = m.Sum(nil)
	}
	return input + "." + b64.EncodeToString(sig)
}

func claims(sub string, groups []string, exp time.Time) map[string]interface{} {
	now := time.Now().Unix()
	return map[string]interface{}{
		"iss": testIssuer, "aud": testAudience, "sub": sub, "groups": groups,
		"iat": now, "nbf": now, "exp": exp.Unix(), "jti": "jti-" + sub,
	}
}

func oidcConfig(dir, extraAuth string) string {
	return fmt.Sprintf(`authorization { %s
  %s
  permission_sets {
    dev: { publish: { allow: ["dev.>", "_INBOX.>"], deny: "dev.secret" }, subscribe: ["dev.>", "_INBOX.>"] }
    ops: { publish: "ops.>", subscribe: "ops.>" }
    all: { publish: ">", subscribe: ">" }
  }
}
oidc {
  issuer: %q
  audience: %q
  jwks_file: %q
  role_claim: groups
  roles { "herald-dev": dev, "herald-ops": ops, "herald-all": all }
  skew: "5s"
}
revocation_file: %q
`, fastFail(), extraAuth, testIssuer, testAudience, filepath.Join(dir, "jwks.json"), filepath.Join(dir, "revoked.json"))
}

func startOIDC(t *testing.T, p *idp, extraAuth string) *Server {
	t.Helper()
	dir := t.TempDir()
	writeAtomic(t, filepath.Join(dir, "jwks.json"), p.jwks())
	writeAtomic(t, filepath.Join(dir, "revoked.json"), `{}`)
	return StartServerIn(t, dir, oidcConfig(dir, extraAuth))
}

func TestOIDC(t *testing.T) {
	heraldOnly(t)
	p := newIdP(t)
	s := startOIDC(t, p, "")
	hour := time.Now().Add(time.Hour)

	t.Run("RS256RoleDev", func(t *testing.T) {
		c := Connect(t, s, "dev-rsa", nats.Token(sign(t, "rsa1", p.rsa, claims("alice", []string{"herald-dev"}, hour))))
		_, ch := ChanSub(t, c, "dev.>", "")
		c.Flush(t)
		c.Publish("dev.x", []byte("1"))
		c.Flush(t)
		if m := Recv(t, ch, 2*time.Second); m.Subject != "dev.x" {
			t.Fatalf("got %s", m.Subject)
		}
		c.Publish("dev.secret", nil)
		c.ExpectErr(t, pubErr("dev.secret"), 2*time.Second)
		c.Publish("ops.x", nil)
		c.ExpectErr(t, pubErr("ops.x"), 2*time.Second)
		ChanSub(t, c, "ops.>", "")
		c.ExpectErr(t, subErr("ops.>"), 2*time.Second)
		c.Flush(t)
		ExpectNone(t, ch, 50*time.Millisecond)
		if !c.IsOpen() {
			t.Fatal("closed after violations")
		}
	})

	t.Run("ES256RoleOps", func(t *testing.T) {
		c := Connect(t, s, "ops-ec", nats.Token(sign(t, "ec1", p.ec, claims("bob", []string{"other", "herald-ops"}, hour))))
		_, ch := ChanSub(t, c, "ops.>", "")
		c.Flush(t)
		c.Publish("ops.y", nil)
		c.Flush(t)
		Recv(t, ch, 2*time.Second)
		c.Publish("dev.x", nil)
		c.ExpectErr(t, pubErr("dev.x"), 2*time.Second)
		// no kid: the keys of the matching type are tried
		Connect(t, s, "ops-ec-nokid", nats.Token(sign(t, "", p.ec, claims("bob", []string{"herald-ops"}, hour)))).Flush(t)
		// aud as an array
		cl := claims("bob", []string{"herald-ops"}, hour)
		cl["aud"] = []string{"other-app", testAudience}
		Connect(t, s, "ops-aud-array", nats.Token(sign(t, "rsa1", p.rsa, cl))).Flush(t)
	})

	t.Run("Rejected", func(t *testing.T) {
		good := claims("carol", []string{"herald-dev"}, hour)
		with := func(k string, v interface{}) map[string]interface{} {
			c := map[string]interface{}{}
			for a, b := range good {
				c[a] = b
			}
			if v == nil {
				delete(c, k)
			} else {
				c[k] = v
			}
			return c
		}
		valid := sign(t, "rsa1", p.rsa, good)
		parts := strings.Split(valid, ".")
		tamperedClaims, _ := json.Marshal(with("groups", []string{"herald-all"}))
		tampered := parts[0] + "." + b64.EncodeToString(tamperedClaims) + "." + parts[2]
		// HS256 with the RSA public key bytes as the HMAC secret (key confusion)
		pubBytes := p.rsa.PublicKey.N.Bytes()
		cases := []struct{ name, tok string }{
			{"expired", sign(t, "rsa1", p.rsa, with("exp", time.Now().Add(-time.Minute).Unix()))},
			{"no exp", sign(t, "rsa1", p.rsa, with("exp", nil))},
			{"not yet valid (nbf)", sign(t, "rsa1", p.rsa, with("nbf", time.Now().Add(time.Hour).Unix()))},
			{"wrong audience", sign(t, "rsa1", p.rsa, with("aud", "other-app"))},
			{"wrong issuer", sign(t, "rsa1", p.rsa, with("iss", "https://evil.test/realms/acme"))},
			{"no sub", sign(t, "rsa1", p.rsa, with("sub", nil))},
			{"unknown kid, rogue key", sign(t, "rogue", p.rogue, good)},
			{"known kid, rogue key", sign(t, "rsa1", p.rogue, good)},
			{"EC kid with RSA alg", sign(t, "ec1", p.rsa, good)},
			{"alg none", sign(t, "rsa1", nil, good)},
			{"alg none, no signature", strings.TrimSuffix(sign(t, "rsa1", nil, good), ".") + "."},
			{"HS256 key confusion", sign(t, "rsa1", pubBytes, good)},
			{"tampered payload", tampered},
			{"truncated signature", valid[:len(valid)-10]},
			{"no mapped role", sign(t, "rsa1", p.rsa, with("groups", []string{"nobody"}))},
		}
		for _, c := range cases {
			ExpectAuthFail(t, s, c.name, nats.Token(c.tok))
			// a successful login resets the per-address failure back-off
			// (failure_delay doubles with each failure within a minute)
			Connect(t, s, "reset", nats.Token(valid)).Close()
		}
		// each refusal is logged with its reason (secrets never appear)
		var reasons []string
		for _, l := range strings.Split(s.Log(), "\n") {
			if strings.Contains(l, "authentication error") {
				reasons = append(reasons, l[strings.Index(l, "authentication error"):])
				if strings.Contains(l, parts[2]) {
					t.Errorf("token signature in the log: %s", l)
				}
			}
		}
		t.Logf("server's refusal reasons:\n%s", strings.Join(reasons, "\n"))
		if len(reasons) < len(cases) {
			t.Errorf("%d refusal reasons logged for %d refused tokens", len(reasons), len(cases))
		}
		// the untampered token works (the cases fail for their own reason)
		Connect(t, s, "valid", nats.Token(valid)).Flush(t)
	})

	t.Run("ExpiryClosesConnection", func(t *testing.T) {
		exp := time.Now().Truncate(time.Second).Add(3 * time.Second)
		c := Connect(t, s, "short-lived", nats.Token(sign(t, "ec1", p.ec, claims("dave", []string{"herald-dev"}, exp))))
		tr := track(t, c, "dev.tick")
		pubc := Connect(t, s, "all", nats.Token(sign(t, "rsa1", p.rsa, claims("root", []string{"herald-all"}, hour))))
		ticker(t, pubc, "dev.tick")
		closed := c.WaitClosed(t, 6*time.Second)
		last, _ := tr.get()
		var gotErr []string
		for _, e := range Drain2(c) {
			gotErr = append(gotErr, e)
		}
		t.Logf("MEASURED token expiry: closed %v after exp (skew 5s), last message %v after exp; async errors %q, last error %v",
			closed.Sub(exp).Round(time.Millisecond), last.Sub(exp).Round(time.Millisecond), gotErr, c.LastError())
		if closed.Before(exp.Add(-100 * time.Millisecond)) {
			t.Errorf("closed %v before exp", exp.Sub(closed))
		}
		// At exp, within the 1 s check period: the skew (5 s here) forgives
		// clock differences at connect, never keeps a live connection open.
		if closed.Sub(exp) > 1500*time.Millisecond {
			t.Errorf("closed %v after exp (want at exp, within the 1 s check period; skew is 5s)", closed.Sub(exp))
		}
		if !contains(gotErr, nats.ErrAuthExpired.Error()) {
			t.Errorf("no 'User Authentication Expired' error, got %v", c.LastError())
		}
		if !pubc.IsOpen() {
			t.Fatal("long-lived token connection closed")
		}
	})
}

// Revocation of tokens by id (sha256 of a plain token or of a JWT), by jti,
// by OIDC subject, and closing of sessions signed by a key removed from the
// JWKS.
func TestRevokeTokens(t *testing.T) {
	heraldOnly(t)
	p := newIdP(t)
	s := startOIDC(t, p, `token: "plain-token-123"`)
	rev := filepath.Join(s.Dir, "revoked.json")
	hour := time.Now().Add(time.Hour)
	mk := func(sub string) string {
		return sign(t, "rsa1", p.rsa, claims(sub, []string{"herald-all"}, hour))
	}
	plain := Connect(t, s, "plain", nats.Token("plain-token-123"))
	jA, jB, jC := mk("alice"), mk("bob"), mk("carol")
	a := Connect(t, s, "jwt-alice", nats.Token(jA))
	b := Connect(t, s, "jwt-bob", nats.Token(jB))
	c := Connect(t, s, "jwt-carol", nats.Token(jC))
	e := Connect(t, s, "jwt-erin-ec", nats.Token(sign(t, "ec1", p.ec, claims("erin", []string{"herald-all"}, hour))))
	pub := Connect(t, s, "pub", nats.Token(mk("publisher")))
	tp, ta, tb, tc, te := track(t, plain, "tk.tick"), track(t, a, "tk.tick"), track(t, b, "tk.tick"), track(t, c, "tk.tick"), track(t, e, "tk.tick")
	ticker(t, pub, "tk.tick")
	waitMore(t, "plain", tp, 20, 3*time.Second)

	t0 := writeAtomic(t, rev, fmt.Sprintf(`{"tokens": [%q]}`, sha256hex("plain-token-123")))
	expectCutOff(t, "plain token revoked by sha256", plain, tp, t0, nats.ErrAuthRevoked)
	waitMore(t, "alice after token revocation", ta, 20, 3*time.Second)
	ExpectAuthFail(t, s, "revoked plain token", nats.Token("plain-token-123"))

	t0 = writeAtomic(t, rev, fmt.Sprintf(`{"tokens": [%q, %q]}`, sha256hex("plain-token-123"), sha256hex(jA)))
	expectCutOff(t, "JWT revoked by sha256", a, ta, t0, nats.ErrAuthRevoked)
	waitMore(t, "bob after JWT revocation", tb, 20, 3*time.Second)
	ExpectAuthFail(t, s, "revoked JWT", nats.Token(jA))

	t0 = writeAtomic(t, rev, fmt.Sprintf(`{"tokens": [%q, %q], "jwt_ids": ["jti-bob"]}`, sha256hex("plain-token-123"), sha256hex(jA)))
	expectCutOff(t, "JWT revoked by jti", b, tb, t0, nats.ErrAuthRevoked)
	waitMore(t, "carol after jti revocation", tc, 20, 3*time.Second)

	t0 = writeAtomic(t, rev, fmt.Sprintf(`{"tokens": [%q, %q], "jwt_ids": ["jti-bob"], "subjects": ["carol"]}`, sha256hex("plain-token-123"), sha256hex(jA)))
	expectCutOff(t, "OIDC subject revoked", c, tc, t0, nats.ErrAuthRevoked)
	ExpectAuthFail(t, s, "revoked subject, new token", nats.Token(mk("carol")))
	waitMore(t, "erin after subject revocation", te, 20, 3*time.Second)

	// the EC key leaves the JWKS: erin's session (signed by it) is closed
	only := newIdP(t)
	only.rsa = p.rsa
	var ks map[string][]map[string]string
	json.Unmarshal([]byte(p.jwks()), &ks)
	ks["keys"] = ks["keys"][:1]
	kb, _ := json.Marshal(ks)
	t0 = writeAtomic(t, filepath.Join(s.Dir, "jwks.json"), string(kb))
	closed := e.WaitClosed(t, 4*time.Second)
	errs := Drain2(e)
	t.Logf("MEASURED key removed from JWKS: disconnect %v after the write (JWKS polled about every 1s); async errors %q", closed.Sub(t0).Round(time.Millisecond), errs)
	if !contains(errs, nats.ErrAuthorization.Error()) {
		t.Errorf("key removed from the JWKS: client got %q, want %q", errs, nats.ErrAuthorization.Error())
	}
	if closed.Sub(t0) > 2500*time.Millisecond {
		t.Errorf("JWKS key removal took %v", closed.Sub(t0))
	}
	if !pub.IsOpen() {
		t.Fatal("unrevoked publisher closed")
	}
	waitMore(t, "publisher's own subscription", track(t, pub, "tk.tick"), 20, 3*time.Second)
}
