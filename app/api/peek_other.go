//go:build !unix

package api

// canPeek is false where sockets cannot be peeked at: watchClient then
// watches nothing, and a client that goes away is seen at the next write.
const canPeek = false

func peekConn(uintptr) (ready, closed bool) { return true, false }
