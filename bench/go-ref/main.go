// A reference wrapper for the benchmarks only: the least a static Go binary
// does for iqqq's job (run the program, forward signals, POST quitquitquit,
// exit with the program's status). It shows the floor for size, start-up and
// memory; it is not a product and has none of iqqq's rules.
package main

import (
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	status := 0
	if len(os.Args) > 1 {
		cmd := exec.Command(os.Args[1], os.Args[2:]...)
		cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
		signals := make(chan os.Signal, 16)
		signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2)
		if err := cmd.Start(); err != nil {
			status = 127
		} else {
			go func() {
				for s := range signals {
					_ = cmd.Process.Signal(s)
				}
			}()
			err := cmd.Wait()
			if exit, ok := err.(*exec.ExitError); ok {
				ws := exit.Sys().(syscall.WaitStatus)
				if ws.Signaled() {
					status = 128 + int(ws.Signal())
				} else {
					status = ws.ExitStatus()
				}
			}
		}
	}
	if os.Getenv("KUBERNETES_SERVICE_HOST") != "" {
		port := os.Getenv("ISTIO_PORT")
		if port == "" {
			port = "15020"
		}
		client := http.Client{Timeout: 5 * time.Second}
		if res, err := client.Post("http://127.0.0.1:"+port+"/quitquitquit", "", nil); err == nil {
			res.Body.Close()
		}
	}
	os.Exit(status)
}
