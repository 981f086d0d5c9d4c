//go:build unix

package api

import (
	"errors"
	"syscall"
)

// canPeek is true where peekConn can look at a socket.
const canPeek = true

// peekConn looks at the socket fd without taking a byte from it (MSG_PEEK)
// and reports whether there is anything to learn yet (ready) and whether
// the peer has closed or reset its connection (closed). Bytes waiting (a
// pipelined request) mean the client is still there.
func peekConn(fd uintptr) (ready, closed bool) {
	var b [1]byte
	for {
		n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK)
		switch {
		case errors.Is(err, syscall.EINTR):
			continue
		case errors.Is(err, syscall.EAGAIN), errors.Is(err, syscall.EWOULDBLOCK):
			return false, false // nothing yet: wait until the socket is readable
		case err != nil:
			return true, true // reset, or another error of the socket
		case n == 0:
			return true, true // end of stream: the client closed its side
		default:
			return true, false
		}
	}
}
