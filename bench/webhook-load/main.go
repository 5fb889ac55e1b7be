// A load client for npm run bench:webhook (bench/webhook.ts), in Go as the
// API server's own client is: -c workers POST the same AdmissionReview to
// -url for -d, over TLS trusting -ca, with or without keep-alive; prints one
// JSON line of counts and latencies. Loopback only (the driver gives the URL).
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
	started := time.Now()
	until := started.Add(*duration)
	var wg sync.WaitGroup
	for w := 0; w < *workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(until) {
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
		"p50": at(0.5), "p99": at(0.99), "max": at(1), "over1s": over,
	}))
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}
