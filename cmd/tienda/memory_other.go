//go:build !linux

package main

// releaseStartupPages is a Linux-only memory trim; elsewhere it does nothing.
func releaseStartupPages() (int, error) { return 0, nil }
