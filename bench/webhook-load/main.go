// A load client for npm run bench:webhook (bench/webhook.ts), in Go as the
// API server's own client is: -c workers POST the same AdmissionReview to
// -url for -d (or -n requests, whichever ends first), over TLS trusting -ca,
// with or without keep-alive; prints one JSON line of counts and latencies,
// and "overtaken": the most requests begun after one and answered before it
// (a server that answers in arrival order keeps it near -c; one that starves
// an early request lets the whole run overtake it). Loopback only (the driver
// or the test gives the URL).
package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"os"
	"sort"
	"sync"
	"time"
)

func main() {
	url := flag.String("url", "", "the webhook's /inject URL")
	caFile := flag.String("ca", "", "the CA certificate (PEM)")
	bodyFile := flag.String("body", "", "the AdmissionReview to send")
	workers := flag.Int("c", 64, "concurrent requests")
	duration := flag.Duration("d", 10*time.Second, "how long")
	keepAlive := flag.Bool("keepalive", true, "reuse connections")
	count := flag.Int("n", 0, "stop after this many requests (0: only -d ends the run)")
	serverName := flag.String("servername", "iqqq-webhook.iqqq-system.svc", "the name the certificate is checked against")
	flag.Parse()
	ca, err := os.ReadFile(*caFile)
	must(err)
	body, err := os.ReadFile(*bodyFile)
	must(err)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	transport := &http.Transport{
		TLSClientConfig:     &tls.Config{RootCAs: pool, ServerName: *serverName},
		DisableKeepAlives:   !*keepAlive,
		MaxIdleConnsPerHost: *workers,
	}
	// The API server's own timeout for a webhook call (deploy/webhook.yaml: 10 s) is the client's.
	client := &http.Client{Transport: transport, Timeout: 10 * time.Second}
	var mu sync.Mutex
	var latencies []time.Duration
	failures := 0
	begun := 0
	// The order each request was begun in, listed in the order they ended.
	var ended []int
	started := time.Now()
	until := started.Add(*duration)
	var wg sync.WaitGroup
	for w := 0; w < *workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(until) {
				mu.Lock()
				if *count > 0 && begun >= *count {
					mu.Unlock()
					return
				}
				seq := begun
				begun++
				mu.Unlock()
				t := time.Now()
				resp, err := client.Post(*url, "application/json", bytes.NewReader(body))
				ok := err == nil
				if ok {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					ok = resp.StatusCode == 200
				}
				took := time.Since(t)
				mu.Lock()
				ended = append(ended, seq)
				if !ok && failures < 3 {
					if err != nil {
						os.Stderr.WriteString("failed: " + err.Error() + "\n")
					} else {
						os.Stderr.WriteString("failed: status " + resp.Status + "\n")
					}
				}
				if ok {
					latencies = append(latencies, took)
				} else {
					failures++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	seconds := time.Since(started).Seconds()
	sort.Slice(latencies, func(i, j int) bool { return latencies[i] < latencies[j] })
	at := func(q float64) float64 {
		if len(latencies) == 0 {
			return 0
		}
		return float64(latencies[int(q*float64(len(latencies)-1))].Microseconds()) / 1000
	}
	over := 0
	for _, l := range latencies {
		if l > time.Second {
			over++
		}
	}
	must(json.NewEncoder(os.Stdout).Encode(map[string]any{
		"answered": len(latencies), "failed": failures, "perSecond": float64(len(latencies)) / seconds,
		"p50": at(0.5), "p99": at(0.99), "max": at(1), "over1s": over, "overtaken": overtaken(ended, begun),
	}))
}

// overtaken: the most requests begun after one and ended before it. Each end
// counts the ended requests begun later (a Fenwick tree over the begin order).
func overtaken(ended []int, begun int) int {
	tree := make([]int, begun+1)
	most := 0
	for done, seq := range ended {
		earlier := 0
		for i := seq + 1; i > 0; i -= i & -i {
			earlier += tree[i]
		}
		if later := done - earlier; later > most {
			most = later
		}
		for i := seq + 1; i <= begun; i += i & -i {
			tree[i]++
		}
	}
	return most
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}
