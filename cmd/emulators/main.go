// Command emulators serves the PagerDuty and strongDM emulators on
// loopback ports until interrupted, and prints, as JSON, how to reach them:
// addresses, credentials and the CA file of the strongDM emulator.
//
//	go run ./cmd/emulators                  # the sandbox's sample organisation
//	go run ./cmd/emulators -org org.json    # an organisation of your own
//	go run ./cmd/emulators -print-org       # print the sample, to start your own
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/oncall-access/oncall-access/internal/sandbox"
)

func main() {
	orgFile := flag.String("org", "", "organisation file (JSON); default: the sample organisation around now")
	printOrg := flag.Bool("print-org", false, "print the sample organisation and exit")
	flag.Parse()

	org := sandbox.Sample(time.Now())
	if *printOrg {
		b, _ := json.MarshalIndent(org, "", "  ")
		fmt.Println(string(b))
		return
	}
	if *orgFile != "" {
		var err error
		if org, err = sandbox.LoadOrg(*orgFile); err != nil {
			fmt.Fprintln(os.Stderr, "emulators:", err)
			os.Exit(2)
		}
	}
	sb, err := sandbox.Serve(org)
	if err != nil {
		fmt.Fprintln(os.Stderr, "emulators:", err)
		os.Exit(1)
	}
	defer sb.Close()
	info, err := sb.Info()
	if err != nil {
		fmt.Fprintln(os.Stderr, "emulators:", err)
		os.Exit(1)
	}
	fmt.Println(info.JSON())
	fmt.Fprintln(os.Stderr, "emulators: serving until interrupted (Ctrl-C)")
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
}
