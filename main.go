// Command oncall-access gives the people on call in PagerDuty temporary
// strongDM grants for exactly their shifts. It runs as a GitHub Action
// (inputs arrive as INPUT_* variables) or as a plain command with flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	_ "time/tzdata" // time-zone works on images without zone data

	"github.com/oncall-access/oncall-access/internal/config"
	"github.com/oncall-access/oncall-access/internal/job"
	"github.com/oncall-access/oncall-access/internal/sandbox"
)

// version is set at build time with -ldflags "-X main.version=..."; a
// build without it reports what the Go toolchain recorded.
var version = "dev"

func init() {
	if version != "dev" {
		return
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return
	}
	if v := info.Main.Version; v != "" && v != "(devel)" {
		version = v // go install ...@v1.2.3
		return
	}
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			version = "dev-" + s.Value[:12]
		}
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	cfg, err := config.Load(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return job.ExitOK
	}
	if err != nil {
		job.BadConfig(err, job.Env{Getenv: getenv, Stdout: stdout, Stderr: stderr})
		return job.ExitBadConfig
	}
	if cfg.Version {
		fmt.Fprintln(stdout, "oncall-access", version)
		return job.ExitOK
	}
	env := job.Env{Version: version, Getenv: getenv, Stdout: stdout, Stderr: stderr}
	if cfg.Sandbox {
		sb, err := sandbox.Start(cfg.At)
		if err != nil {
			fmt.Fprintln(stderr, "oncall-access: start the sandbox:", err)
			return job.ExitFailed
		}
		defer sb.Close()
		cfg, env = sb.Configure(cfg, env)
	}
	return job.Run(ctx, cfg, env)
}
