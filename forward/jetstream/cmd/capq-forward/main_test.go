package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"

	capqjs "github.com/capq/capq/forward/jetstream"
	"github.com/capq/capq/queue"
)

func startServer(t *testing.T, mutate func(*server.Options)) *server.Server {
	t.Helper()
	o := &server.Options{
		ServerName: "cli", Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(),
		NoLog: true, NoSigs: true, JetStreamMaxMemory: 64 << 20, JetStreamMaxStore: 1 << 30,
	}
	if mutate != nil {
		mutate(o)
	}
	s, err := server.NewServer(o)
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	t.Cleanup(s.Shutdown)
	if !s.ReadyForConnections(time.Minute) {
		t.Fatal("server not ready")
	}
	return s
}

// createStream creates the stream over conn, a connection the test opened
// with whatever credentials the server needs.
func createStream(t *testing.T, nc *nats.Conn) natsjs.JetStream {
	t.Helper()
	js, err := natsjs.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := js.CreateStream(ctx, natsjs.StreamConfig{Name: "CAPTURE", Subjects: []string{"capture.>"}}); err != nil {
		t.Fatal(err)
	}
	return js
}

func fillQueue(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	q, err := queue.Open(dir, queue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	for i := range n {
		if _, err := q.Append(fmt.Appendf(nil, `{"i":%d}`, i)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func pending(t *testing.T, dir string) int {
	t.Helper()
	q, err := queue.Open(dir, queue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	n, err := q.Count()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func streamMsgs(t *testing.T, js natsjs.JetStream) uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := js.Stream(ctx, "CAPTURE")
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func runCmd(t *testing.T, getenv func(string) string, args ...string) (int, string) {
	t.Helper()
	var stderr bytes.Buffer
	code := run(context.Background(), args, getenv, &stderr)
	return code, stderr.String()
}

func TestForwardOnce(t *testing.T) {
	s := startServer(t, nil)
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js := createStream(t, nc)
	dir := fillQueue(t, 20)
	// The URL comes from the environment here, the rest from flags.
	code, out := runCmd(t, env(map[string]string{"NATS_URL": s.ClientURL()}),
		"--dir", dir, "--stream", "CAPTURE", "--subject", "capture.h1")
	if code != exitOK {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	if n := pending(t, dir); n != 0 {
		t.Fatalf("%d records left", n)
	}
	if n := streamMsgs(t, js); n != 20 {
		t.Fatalf("stream holds %d messages, want 20", n)
	}
}

func TestNKey(t *testing.T) {
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := kp.PublicKey()
	seed, _ := kp.Seed()
	seedFile := filepath.Join(t.TempDir(), "user.nk")
	if err := os.WriteFile(seedFile, seed, 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, func(o *server.Options) { o.Nkeys = []*server.NkeyUser{{Nkey: pub}} })
	opt, err := nats.NkeyOptionFromSeed(seedFile)
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(s.ClientURL(), opt)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js := createStream(t, nc)
	dir := fillQueue(t, 5)

	// Without the key the server refuses the connection: the command
	// retries until --timeout and keeps every record.
	code, out := runCmd(t, env(nil), "--dir", dir, "--nats", s.ClientURL(), "--stream", "CAPTURE", "--subject", "capture.h1",
		"--timeout", "300ms", "--backoff-min", "10ms")
	if code != exitFail || !strings.Contains(out, "timeout") {
		t.Fatalf("without key: exit %d:\n%s", code, out)
	}
	if n := pending(t, dir); n != 5 {
		t.Fatalf("%d records left, want 5", n)
	}
	code, out = runCmd(t, env(map[string]string{"NATS_NKEY": seedFile}), "--dir", dir, "--nats", s.ClientURL(), "--stream", "CAPTURE", "--subject", "capture.h1")
	if code != exitOK {
		t.Fatalf("with key: exit %d:\n%s", code, out)
	}
	if n := pending(t, dir); n != 0 || streamMsgs(t, js) != 5 {
		t.Fatalf("%d records left, stream %d", n, streamMsgs(t, js))
	}
}

func TestUserPasswordFile(t *testing.T) {
	s := startServer(t, func(o *server.Options) { o.Username, o.Password = "cap", "s3cret" })
	nc, err := nats.Connect(s.ClientURL(), nats.UserInfo("cap", "s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js := createStream(t, nc)
	dir := fillQueue(t, 3)
	pw := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pw, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out := runCmd(t, env(nil), "--dir", dir, "--nats", s.ClientURL(), "--stream", "CAPTURE", "--subject", "capture.h1",
		"--user", "cap", "--password-file", pw)
	if code != exitOK || streamMsgs(t, js) != 3 {
		t.Fatalf("exit %d, stream %d:\n%s", code, streamMsgs(t, js), out)
	}
}

func TestMutualTLS(t *testing.T) {
	d := t.TempDir()
	ca, caKey := newCert(t, nil, nil, "capq test CA", true)
	srv, srvKey := newCert(t, ca, caKey, "127.0.0.1", false)
	cli, cliKey := newCert(t, ca, caKey, "producer-host", false)
	write := func(name string, typ string, der []byte) string {
		p := filepath.Join(d, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	caFile := write("ca.pem", "CERTIFICATE", ca.Raw)
	cliFile, cliKeyFile := write("cli.pem", "CERTIFICATE", cli.Raw), write("cli.key", "EC PRIVATE KEY", marshalKey(t, cliKey))
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	s := startServer(t, func(o *server.Options) {
		o.TLS = true
		o.TLSVerify = true
		o.TLSConfig = &tls.Config{
			Certificates: []tls.Certificate{{Certificate: [][]byte{srv.Raw}, PrivateKey: srvKey}},
			ClientCAs:    pool,
			ClientAuth:   tls.RequireAndVerifyClientCert,
			MinVersion:   tls.VersionTLS12,
		}
	})
	url := fmt.Sprintf("tls://127.0.0.1:%d", s.Addr().(*net.TCPAddr).Port)
	nc, err := nats.Connect(url, nats.RootCAs(caFile), nats.ClientCert(cliFile, cliKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js := createStream(t, nc)
	dir := fillQueue(t, 4)
	code, out := runCmd(t, env(map[string]string{"NATS_CA": caFile}), "--dir", dir, "--nats", url, "--stream", "CAPTURE", "--subject", "capture.h1",
		"--tls-cert", cliFile, "--tls-key", cliKeyFile)
	if code != exitOK || streamMsgs(t, js) != 4 {
		t.Fatalf("exit %d, stream %d:\n%s", code, streamMsgs(t, js), out)
	}
}

func newCert(t *testing.T, parent *x509.Certificate, parentKey *ecdsa.PrivateKey, cn string, isCA bool) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	if isCA {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.KeyUsage |= x509.KeyUsageCertSign
		tmpl.ExtKeyUsage = nil
	} else {
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c, key
}

func marshalKey(t *testing.T, k *ecdsa.PrivateKey) []byte {
	t.Helper()
	b, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestUsage(t *testing.T) {
	base := []string{"--dir", "/nonexistent/capq", "--stream", "S", "--subject", "capture.h"}
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"password in url", []string{"--nats", "nats://u:p@127.0.0.1:4222"}, nil, "credentials on the command line"},
		{"token in url", []string{"--nats", "nats://127.0.0.1:1,nats://tok@127.0.0.1:4222"}, nil, "credentials on the command line"},
		{"no subject", []string{"--subject", ""}, nil, "--subject is required"},
		{"no stream", []string{"--stream", ""}, nil, "--stream is required"},
		{"cert without key", []string{"--tls-cert", "c.pem"}, nil, "go together"},
		{"password file without user", []string{"--password-file", "pw"}, nil, "needs --user"},
		{"creds and nkey", []string{"--creds", "a"}, map[string]string{"NATS_NKEY": "b"}, "exclusive"},
		{"extra argument", []string{"extra"}, nil, "unexpected arguments"},
		{"unknown flag", []string{"--password", "x"}, nil, "not defined"},
		{"bad subject", []string{"--subject", "capture.*"}, nil, "invalid configuration"},
		{"missing seed file", []string{"--nkey", "/nonexistent/seed"}, nil, "--nkey"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append(append([]string{}, base...), tc.args...)
			if tc.name == "bad subject" {
				args[0], args[1] = "--dir", t.TempDir()
			}
			code, out := runCmd(t, env(tc.env), args...)
			if code != exitUsage || !strings.Contains(out, tc.want) {
				t.Fatalf("exit %d, want %d with %q:\n%s", code, exitUsage, tc.want, out)
			}
			if strings.Contains(out, ":p@") || strings.Contains(out, "tok@") {
				t.Fatalf("output repeats the credential:\n%s", out)
			}
		})
	}
	// NATS_URL may carry credentials: the environment is not the process list.
	o, err := parse(base, env(map[string]string{"NATS_URL": "nats://u:p@127.0.0.1:4222"}), new(bytes.Buffer))
	if err != nil || o.url != "nats://u:p@127.0.0.1:4222" {
		t.Fatalf("NATS_URL with credentials: %v %q", err, o.url)
	}
	var ue *usageError
	if _, err := parse(append(base, "--subject", ""), env(nil), new(bytes.Buffer)); !errors.As(err, &ue) {
		t.Fatalf("parse error %T, want *usageError", err)
	}
}

// lockedBuffer is a bytes.Buffer safe for the command's log goroutines.
// Intentionally separate from tools/internal/report's syncBuf, the same
// few lines: this is another module, which cannot import capq's internal
// or test code.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestFollowAndStatus runs the command with --follow and --status: it
// forwards records appended while it runs, serves its state, and exits 0
// when its context is cancelled (SIGINT or SIGTERM in main).
func TestFollowAndStatus(t *testing.T) {
	s := startServer(t, nil)
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js := createStream(t, nc)
	dir := fillQueue(t, 2)

	ctx, cancel := context.WithCancel(context.Background())
	var out lockedBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"--dir", dir, "--nats", s.ClientURL(), "--stream", "CAPTURE", "--subject", "capture.h1",
			"--follow", "--poll", "10ms", "--status", "127.0.0.1:0"}, env(nil), &out)
	}()
	wait := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(time.Minute)
		for !cond() {
			if time.Now().After(deadline) {
				cancel()
				t.Fatalf("timed out waiting for %s:\n%s", what, out.String())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	wait("the first two records", func() bool { return streamMsgs(t, js) == 2 })
	q, err := queue.Open(dir, queue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := q.Append([]byte(`{"late":true}`)); err != nil {
		t.Fatal(err)
	}
	q.Close()
	wait("the record appended later", func() bool { return streamMsgs(t, js) == 3 })

	var addr string
	wait("the status address", func() bool {
		_, rest, ok := strings.Cut(out.String(), `msg="serving state" addr=`)
		addr, _, _ = strings.Cut(rest, "\n")
		return ok && addr != ""
	})
	resp, err := http.Get(addr)
	if err != nil {
		t.Fatal(err)
	}
	var st capqjs.State
	err = json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || st.Forwarded != 3 || !st.Connected {
		t.Fatalf("status %d %+v %v", resp.StatusCode, st, err)
	}

	cancel()
	if code := <-done; code != exitOK {
		t.Fatalf("exit %d:\n%s", code, out.String())
	}
}
