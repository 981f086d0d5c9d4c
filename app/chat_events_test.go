package app

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"tienda/app/config"
	"time"
)

// fakeNATS speaks enough of the NATS client protocol (INFO, CONNECT,
// PING/PONG, PUB) for a real nats.go client to connect and publish.
type fakeNATS struct {
	ln  net.Listener
	mu  sync.Mutex
	msg []natsMsg
}

type natsMsg struct {
	Subject string
	Data    []byte
}

func startFakeNATS(t *testing.T) *fakeNATS {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeNATS{ln: ln}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go f.serve(conn)
		}
	}()
	return f
}

func (f *fakeNATS) url() string { return "nats://" + f.ln.Addr().String() }

func (f *fakeNATS) serve(conn net.Conn) {
	defer conn.Close()
	port := f.ln.Addr().(*net.TCPAddr).Port
	fmt.Fprintf(conn, "INFO {\"server_id\":\"fake\",\"server_name\":\"fake\",\"version\":\"2.10.0\",\"proto\":1,\"host\":\"127.0.0.1\",\"port\":%d,\"headers\":true,\"max_payload\":1048576}\r\n", port)
	r := bufio.NewReader(conn)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		switch {
		case strings.HasPrefix(line, "PING"):
			_, _ = io.WriteString(conn, "PONG\r\n")
		case strings.HasPrefix(line, "PUB "):
			parts := strings.Fields(line)
			size, _ := strconv.Atoi(parts[len(parts)-1])
			data := make([]byte, size+2)
			if _, err := io.ReadFull(r, data); err != nil {
				return
			}
			f.mu.Lock()
			f.msg = append(f.msg, natsMsg{Subject: parts[1], Data: data[:size]})
			f.mu.Unlock()
		}
	}
}

func (f *fakeNATS) messages() []natsMsg {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]natsMsg(nil), f.msg...)
}

func TestDocumentIndexedPublishedToNATS(t *testing.T) {
	nats := startFakeNATS(t)
	ts := newTestServer(t, "sqlite", func(c *config.Config) { c.Chat.NATSURL = nats.url() })
	auth := ts.staffToken("ana")
	id := ts.createIndexedDoc(auth, "Return policy", lampDoc)
	var got natsMsg
	ok := eventually(t, 5*time.Second, func() bool {
		for _, m := range nats.messages() {
			if m.Subject == "document.indexed" {
				got = m
				return true
			}
		}
		return false
	})
	if !ok {
		t.Fatalf("no document.indexed message; got %+v", nats.messages())
	}
	var ev struct {
		DocumentID int64 `json:"document_id"`
		Chunks     int   `json:"chunks"`
	}
	if err := json.Unmarshal(got.Data, &ev); err != nil || ev.DocumentID != id || ev.Chunks != 2 {
		t.Fatalf("event %s: %v", got.Data, err)
	}
}

func TestNATSURLConfig(t *testing.T) {
	cases := []struct {
		val string
		ok  bool
	}{{"", true}, {"nats://127.0.0.1:4222", true}, {"tls://nats.example.com:4222", true}, {"http://x", false}}
	for _, tc := range cases {
		_, err := config.Load(func(k string) string {
			if k == "NATS_URL" {
				return tc.val
			}
			return ""
		})
		if (err == nil) != tc.ok {
			t.Fatalf("%q: %v", tc.val, err)
		}
	}
}
