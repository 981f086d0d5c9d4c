package testdb

import (
	"context"
	"net"
	"net/url"
	"sync"
	"testing"

	"gorm.io/gorm"

	"tienda/models"
)

// Proxy forwards TCP connections to a target address, and can stall them
// as a hung network would: connections stay open, bytes stop moving in
// both directions until Resume. Tests use it to prove that a hung
// database gives answers within the request's deadline and that the
// server recovers on its own.
type Proxy struct {
	ln     net.Listener
	target string

	mu     sync.Mutex
	gate   chan struct{} // closed while forwarding; open (blocking) while stalled
	conns  map[*link]struct{}
	closed bool
	wg     sync.WaitGroup
}

// link is one proxied connection: the client's side and the target's.
type link struct {
	client, server net.Conn
	once           sync.Once
	done           chan struct{}
}

func (l *link) close() {
	l.once.Do(func() {
		close(l.done)
		_ = l.client.Close()
		_ = l.server.Close()
	})
}

// NewProxy listens on a free local port and forwards every connection to
// target (host:port). It is closed when the test ends.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("proxy listen: %v", err)
	}
	gate := make(chan struct{})
	close(gate)
	p := &Proxy{ln: ln, target: target, gate: gate, conns: map[*link]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.Close)
	return p
}

// Addr is the address clients connect to (host:port).
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Stall stops forwarding bytes on every connection, present and future;
// connections are accepted and kept open.
func (p *Proxy) Stall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.gate:
		p.gate = make(chan struct{})
	default: // already stalled
	}
}

// Resume forwards again, the bytes held during the stall first.
func (p *Proxy) Resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.gate:
	default:
		close(p.gate)
	}
}

// CloseAll closes every proxied connection on both sides, as a restart of
// the server or a dropped network would; new connections are accepted.
func (p *Proxy) CloseAll() {
	p.mu.Lock()
	links := make([]*link, 0, len(p.conns))
	for l := range p.conns {
		links = append(links, l)
	}
	p.mu.Unlock()
	for _, l := range links {
		l.close()
	}
}

// Close stops listening and closes every connection.
func (p *Proxy) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	p.mu.Unlock()
	_ = p.ln.Close()
	p.CloseAll()
	p.wg.Wait()
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return // closed
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = c.Close()
			continue
		}
		l := &link{client: c, server: s, done: make(chan struct{})}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			l.close()
			return
		}
		p.conns[l] = struct{}{}
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(l, l.server, l.client)
		go p.pipe(l, l.client, l.server)
	}
}

// pipe copies src to dst while the gate is open. A read may complete
// during a stall; its bytes wait for Resume, and the next read waits too,
// so the sender's TCP window fills as on a hung network.
func (p *Proxy) pipe(l *link, dst, src net.Conn) {
	defer p.wg.Done()
	defer func() {
		l.close()
		p.mu.Lock()
		delete(p.conns, l)
		p.mu.Unlock()
	}()
	buf := make([]byte, 32<<10)
	for {
		if !p.open(l) {
			return
		}
		n, err := src.Read(buf)
		if n > 0 {
			if !p.open(l) {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// open waits while the proxy is stalled; false when l was closed meanwhile.
func (p *Proxy) open(l *link) bool {
	p.mu.Lock()
	gate := p.gate
	p.mu.Unlock()
	select {
	case <-gate:
		return true
	case <-l.done:
		return false
	}
}

// OpenViaProxy returns a migrated PostgreSQL database (a schema of its own,
// as Open gives) whose connections all go through a Proxy, so that a test
// can hang or drop the network between the server and the database. It
// skips the test when TEST_DATABASE_URL is not set.
func OpenViaProxy(t testing.TB) (*gorm.DB, *Proxy) {
	t.Helper()
	db, p, _ := OpenViaProxyURL(t)
	return db, p
}

// OpenViaProxyURL is OpenViaProxy, also returning the URL through the
// proxy (for starting a server process on it).
func OpenViaProxyURL(t testing.TB) (*gorm.DB, *Proxy, string) {
	t.Helper()
	_, direct := OpenURL(t, models.Postgres) // migrated, dropped at the end
	u, err := url.Parse(direct)
	if err != nil {
		t.Fatalf("database URL: %v", err)
	}
	target := u.Host
	if u.Port() == "" {
		target = net.JoinHostPort(u.Hostname(), "5432")
	}
	p := NewProxy(t, target)
	u.Host = p.Addr()
	db, err := models.Open(context.Background(), models.DBConfig{URL: u.String(), MaxOpenConns: 8})
	if err != nil {
		t.Fatalf("open through the proxy: %v", err)
	}
	// The proxy closes first, so that closing the pool never waits on a
	// stalled connection.
	t.Cleanup(func() {
		p.Close()
		_ = models.Close(db)
	})
	return db, p, u.String()
}
