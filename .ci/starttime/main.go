// Command starttime measures a server's start-up: the time from exec to the
// first 200 answer of a URL, polled every millisecond. Used by .ci/bench-mix;
// not part of the application (directories starting with a dot are outside
// ./...). Build: go build -o starttime .ci/starttime/main.go
//
//	starttime -url http://127.0.0.1:8080/health [-n 10] [-log FILE] -- cmd args...
//
// Each repetition starts the command (environment inherited), polls the URL
// with a fresh connection every -poll (1 ms) until it answers 200, then sends
// SIGTERM and waits for the process to exit (SIGKILL after -stop). Prints one
// JSON object: {"samples_ms":[...],"median_ms":M,"min_ms":A,"max_ms":B}.
// A command that exits before answering, or -timeout without a 200, fails.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"syscall"
	"time"
)

func main() {
	url := flag.String("url", "", "URL that answers 200 once the server is up")
	n := flag.Int("n", 10, "repetitions")
	poll := flag.Duration("poll", time.Millisecond, "interval between polls")
	timeout := flag.Duration("timeout", 30*time.Second, "give up on a start after this long")
	stop := flag.Duration("stop", 20*time.Second, "SIGKILL a server still running this long after SIGTERM")
	logPath := flag.String("log", "", "append the server's stdout and stderr to this file (default: discarded)")
	flag.Parse()
	if *url == "" || flag.NArg() == 0 || *n < 1 {
		fmt.Fprintln(os.Stderr, "usage: starttime -url URL [-n 10] [-log FILE] -- cmd args...")
		os.Exit(2)
	}
	var out io.Writer = io.Discard
	if *logPath != "" {
		f, err := os.OpenFile(*logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			fail(err)
		}
		defer f.Close()
		out = f
	}
	client := &http.Client{
		Timeout:   time.Second,
		Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil},
	}
	samples := make([]float64, 0, *n)
	for i := 0; i < *n; i++ {
		ms, err := once(client, *url, *poll, *timeout, *stop, out, flag.Args())
		if err != nil {
			fail(fmt.Errorf("repetition %d: %w", i+1, err))
		}
		samples = append(samples, ms)
	}
	sorted := append([]float64(nil), samples...)
	sort.Float64s(sorted)
	med := sorted[len(sorted)/2]
	if len(sorted)%2 == 0 {
		med = (sorted[len(sorted)/2-1] + sorted[len(sorted)/2]) / 2
	}
	res := map[string]any{"samples_ms": samples, "median_ms": med, "min_ms": sorted[0], "max_ms": sorted[len(sorted)-1]}
	if err := json.NewEncoder(os.Stdout).Encode(res); err != nil {
		fail(err)
	}
}

func once(client *http.Client, url string, poll, timeout, stop time.Duration, out io.Writer, argv []string) (float64, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = out, out
	exited := make(chan error, 1)
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	go func() { exited <- cmd.Wait() }()
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(stop):
			_ = cmd.Process.Kill()
			<-exited
		}
	}()
	deadline := t0.Add(timeout)
	for {
		resp, err := client.Get(url)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return float64(time.Since(t0).Microseconds()) / 1000, nil
			}
		}
		select {
		case err := <-exited:
			exited <- err // for the deferred wait
			return 0, fmt.Errorf("%s exited before answering 200: %v", argv[0], err)
		default:
		}
		if time.Now().After(deadline) {
			return 0, errors.New("no 200 from " + url + " within " + timeout.String())
		}
		time.Sleep(poll)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "starttime:", err)
	os.Exit(1)
}
