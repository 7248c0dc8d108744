// Package mosquittotest runs a real mosquitto broker on a free loopback port for tests, and
// makes throw-away TLS certificate authorities for it.
package mosquittotest

import (
	"bytes"
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
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Binary is the mosquitto executable; tests fail (not skip) when it is missing.
var Binary = "/usr/sbin/mosquitto"

// Broker is a running (or stopped) mosquitto. Stop and Start may be called repeatedly;
// the port stays the same so clients reconnect to it.
type Broker struct {
	t       testing.TB
	Port    int
	dir     string
	tls     *ServerTLS
	persist bool
	users   map[string]string

	mu     sync.Mutex
	cmd    *exec.Cmd
	out    *syncBuffer
	exited chan struct{}
}

// ServerTLS makes the listener speak TLS with these PEM files.
type ServerTLS struct {
	CA, Cert, Key string
}

// Option configures Start.
type Option func(*Broker)

// WithPersistence keeps sessions and queued messages across Stop/Start (saved on SIGTERM),
// so a subscriber with a persistent session misses nothing while the broker restarts.
func WithPersistence() Option { return func(b *Broker) { b.persist = true } }

// WithPasswords turns anonymous access off and accepts only these user names and passwords.
func WithPasswords(users map[string]string) Option {
	return func(b *Broker) { b.users = users }
}

// WithTLS serves TLS instead of plain TCP.
func WithTLS(s ServerTLS) Option { return func(b *Broker) { b.tls = &s } }

// Start starts mosquitto on a free 127.0.0.1 port and stops it in t.Cleanup.
func Start(t testing.TB, opts ...Option) *Broker {
	t.Helper()
	if _, err := os.Stat(Binary); err != nil {
		t.Fatalf("mosquittotest: %v: install mosquitto (scripts/setup.sh) to run the MQTT tests", err)
	}
	b := &Broker{t: t, dir: t.TempDir(), Port: FreePort(t)}
	for _, o := range opts {
		o(b)
	}
	b.Start()
	t.Cleanup(b.Stop)
	return b
}

// FreePort returns a loopback TCP port nobody listens on right now.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("mosquittotest: find a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// URL is the broker address for paho: tcp://127.0.0.1:PORT or ssl://... with TLS.
func (b *Broker) URL() string {
	scheme := "tcp"
	if b.tls != nil {
		scheme = "ssl"
	}
	return fmt.Sprintf("%s://127.0.0.1:%d", scheme, b.Port)
}

// Addr is host:port.
func (b *Broker) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(b.Port)) }

// Start (re)starts the broker and waits until it accepts connections.
func (b *Broker) Start() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cmd != nil {
		return
	}
	conf := fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest stderr\nlog_type error\nlog_type warning\nlog_type notice\n", b.Port)
	if b.persist {
		conf = strings.Replace(conf, "persistence false", "persistence true\npersistence_location "+b.dir+"/", 1)
	}
	if b.users != nil {
		pw := filepath.Join(b.dir, "passwords")
		for user, pass := range b.users {
			args := []string{"-b", pw, user, pass}
			if _, err := os.Stat(pw); err != nil {
				args = append([]string{"-c"}, args...)
			}
			if out, err := exec.Command("mosquitto_passwd", args...).CombinedOutput(); err != nil {
				b.t.Fatalf("mosquittotest: mosquitto_passwd: %v: %s", err, out)
			}
		}
		conf = strings.Replace(conf, "allow_anonymous true", "allow_anonymous false\npassword_file "+pw, 1)
	}
	if os.Geteuid() == 0 {
		// Otherwise mosquitto drops to the "mosquitto" user, which cannot read the test's files.
		conf += "user root\n"
	}
	if b.tls != nil {
		conf += fmt.Sprintf("cafile %s\ncertfile %s\nkeyfile %s\ntls_version tlsv1.2\n", b.tls.CA, b.tls.Cert, b.tls.Key)
	}
	p := filepath.Join(b.dir, "mosquitto.conf")
	if err := os.WriteFile(p, []byte(conf), 0o600); err != nil {
		b.t.Fatalf("mosquittotest: %v", err)
	}
	cmd := exec.Command(Binary, "-c", p)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		b.t.Fatalf("mosquittotest: start %s: %v", Binary, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	// Readiness, not a timing assertion: the bound only keeps a broken install from hanging.
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", b.Addr(), 200*time.Millisecond)
		if err == nil {
			c.Close()
			break
		}
		select {
		case <-exited:
			b.t.Fatalf("mosquittotest: mosquitto exited at start:\n%s", out)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-exited
			b.t.Fatalf("mosquittotest: mosquitto did not listen on %s:\n%s", b.Addr(), out)
		}
	}
	b.cmd = cmd
	b.out = out
	b.exited = exited
}

// Stop stops the broker (SIGTERM, then SIGKILL) and waits for it to exit.
func (b *Broker) Stop() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cmd == nil {
		return
	}
	_ = b.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-b.exited:
	case <-time.After(5 * time.Second):
		_ = b.cmd.Process.Kill()
		<-b.exited
	}
	b.cmd = nil
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Log is what mosquitto printed so far.
func (b *Broker) Log() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.out == nil {
		return ""
	}
	return b.out.String()
}

// CA is a throw-away certificate authority.
type CA struct {
	Cert    *x509.Certificate
	key     *ecdsa.PrivateKey
	CertPEM string // path of the CA certificate
	dir     string
}

// NewCA makes a CA whose files live in a test temporary directory.
func NewCA(t testing.TB, name string) *CA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	ca := &CA{Cert: cert, key: key, dir: t.TempDir()}
	ca.CertPEM = ca.write(t, name+"-ca.pem", "CERTIFICATE", der)
	return ca
}

func (ca *CA) write(t testing.TB, name, typ string, der []byte) string {
	p := filepath.Join(ca.dir, name)
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// Issue makes a certificate for 127.0.0.1 and localhost (server and client use) and returns
// the paths of its certificate and key.
func (ca *CA) Issue(t testing.TB, name string) (certPath, keyPath string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:     []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return ca.write(t, name+".pem", "CERTIFICATE", der), ca.write(t, name+"-key.pem", "EC PRIVATE KEY", kder)
}
