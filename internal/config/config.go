// Package config reads and checks the job's inputs. They come from action
// inputs (INPUT_* variables, named exactly as the runner sets them), from
// command-line flags of the same names, and from the conventional
// PAGERDUTY_TOKEN, SDM_API_ACCESS_KEY and SDM_API_SECRET_KEY variables.
// A flag wins over an input, an input over a conventional variable.
package config

import (
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/oncall-access/oncall-access/internal/oncall"
	"github.com/sethvargo/go-githubactions"
)

// MaxWindow is how far ahead PagerDuty can report on-call shifts.
const MaxWindow = 90 * 24 * time.Hour

// Config is the checked configuration of one run.
type Config struct {
	PagerDutyToken  string
	Schedules       []string
	Policies        []string
	Levels          []int // empty: every level
	PagerDutyURL    string
	SDMAccessKey    string
	SDMSecretKey    string
	SDMHost         string
	Resources       []string
	ResourceFilter  string
	Window          time.Duration
	LeadTime        time.Duration
	GracePeriod     time.Duration
	MaxDuration     time.Duration // zero: no cap
	EmailMap        map[string]string
	Revoke          bool
	MaxChanges      int
	Concurrency     int
	DryRun          bool
	Redact          string // "auto", "true" or "false"
	TimeZone        *time.Location
	FailOnUnmatched bool
	Timeout         time.Duration
	Sandbox         bool

	At      time.Time // plan as if it were this time; zero: now
	Debug   bool
	Version bool // print the version and stop
}

// Input describes one input: its name (action.yml, flag and INPUT_ name),
// the environment variable it falls back to, its default and what it means.
type Input struct {
	Name    string
	Env     string
	Default string
	Usage   string
	Secret  bool
}

// Inputs lists every input in the order action.yml and the README give them.
var Inputs = []Input{
	{Name: "pagerduty-token", Env: "PAGERDUTY_TOKEN", Usage: "PagerDuty REST API key; read-only is enough", Secret: true},
	{Name: "pagerduty-schedules", Usage: "PagerDuty schedule IDs, comma or newline separated"},
	{Name: "pagerduty-escalation-policies", Usage: "PagerDuty escalation policy IDs, comma or newline separated"},
	{Name: "escalation-levels", Default: "all", Usage: "escalation levels to grant, e.g. 1 for primary on-call only"},
	{Name: "pagerduty-api-url", Default: "https://api.pagerduty.com", Usage: "PagerDuty REST API; EU accounts use https://api.eu.pagerduty.com"},
	{Name: "sdm-api-access-key", Env: "SDM_API_ACCESS_KEY", Usage: "strongDM API access key", Secret: true},
	{Name: "sdm-api-secret-key", Env: "SDM_API_SECRET_KEY", Usage: "strongDM API secret key (base64)", Secret: true},
	{Name: "sdm-api-host", Default: "app.strongdm.com:443", Usage: "strongDM control plane host:port; UK app.uk.strongdm.com:443, EU app.eu.strongdm.com:443"},
	{Name: "resources", Usage: "exact strongDM resource names, comma or newline separated"},
	{Name: "resource-filter", Usage: "strongDM resource filter, e.g. tag:oncall=true"},
	{Name: "window", Default: "24h", Usage: "how far ahead to look (at most 90 days); at least the time between runs plus cron delay"},
	{Name: "lead-time", Default: "0", Usage: "access starts this long before the shift"},
	{Name: "grace-period", Default: "0", Usage: "access ends this long after the shift"},
	{Name: "max-duration", Default: "none", Usage: "longest single grant"},
	{Name: "email-map", Usage: "lines 'pagerduty-email = strongdm-email'"},
	{Name: "revoke", Default: "false", Usage: "remove managed grants nobody on call needs any more"},
	{Name: "max-changes", Default: "100", Usage: "refuse to write more than this many changes in one run"},
	{Name: "concurrency", Default: "4", Usage: "parallel strongDM calls"},
	{Name: "dry-run", Default: "false", Usage: "plan and report only; write nothing"},
	{Name: "redact", Default: "auto", Usage: "mask emails in the summary and log: true, false, or auto (in Actions, unless the repository is private)"},
	{Name: "time-zone", Default: "UTC", Usage: "time zone for times shown in the summary"},
	{Name: "fail-on-unmatched", Default: "false", Usage: "exit 1 when an on-call person has no strongDM user"},
	{Name: "timeout", Default: "5m", Usage: "deadline for the whole run"},
	{Name: "sandbox", Default: "false", Usage: "run against built-in emulators of PagerDuty and strongDM"},
}

// Problems are every input error found, one per input.
type Problems []Problem

// Problem is one input that is wrong, and what a good value looks like.
type Problem struct {
	Input string
	Msg   string
}

// Error is "input: what is wrong".
func (p Problem) Error() string { return p.Input + ": " + p.Msg }

// Error is one line per problem.
func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.Error()
	}
	return strings.Join(lines, "\n")
}

// Load reads the configuration from args (without the program name) and
// the environment. It returns flag.ErrHelp for -help, and Problems, listing
// every bad input at once, when the configuration is not usable.
func Load(args []string, getenv func(string) string, usage io.Writer) (Config, error) {
	fs := flag.NewFlagSet("oncall-access", flag.ContinueOnError)
	fs.SetOutput(usage)
	flags := make(map[string]*inputFlag, len(Inputs))
	for _, in := range Inputs {
		def := in.Default
		if in.Env != "" {
			def = "env " + in.Env
		}
		// Boolean inputs are boolean flags: -sandbox means -sandbox=true.
		flags[in.Name] = &inputFlag{isBool: def == "false"}
		fs.Var(flags[in.Name], in.Name, in.Usage+" (default "+orNone(def)+")")
	}
	at := fs.String("at", "", "plan as if it were this time (RFC 3339), for previews and replays; a time other than now needs -dry-run")
	debug := fs.Bool("debug", false, "log each request (never secrets)")
	version := fs.Bool("version", false, "print the version and exit")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: oncall-access [flags]\n\nGives the people on call in PagerDuty temporary strongDM grants for their shifts.\nEvery flag but -at, -debug and -version is also an action input, read from\nINPUT_<NAME> as the runner sets it: upper case, hyphens kept (INPUT_DRY-RUN).\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if fs.NArg() > 0 {
		return Config{}, Problems{{Input: "arguments", Msg: fmt.Sprintf("unexpected %q: every setting is a flag such as -window=24h", fs.Arg(0))}}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	gha := githubactions.New(githubactions.WithGetenv(getenv))
	value := func(in Input) string {
		if set[in.Name] {
			return strings.TrimSpace(flags[in.Name].v)
		}
		// The runner sets every declared input, empty when not given: empty
		// means "not set", never "set to nothing".
		if v := gha.GetInput(in.Name); v != "" {
			return v
		}
		if in.Env != "" {
			if v := strings.TrimSpace(getenv(in.Env)); v != "" {
				return v
			}
		}
		if in.Default == "none" || in.Default == "all" {
			return ""
		}
		return in.Default
	}
	v := make(map[string]string, len(Inputs))
	for _, in := range Inputs {
		v[in.Name] = value(in)
	}

	var ps Problems
	for _, in := range Inputs {
		// A name with underscores is never set by the runner: it is a typo
		// (INPUT_DRY_RUN), and ignoring it could turn a dry run live.
		under := "INPUT_" + strings.ToUpper(strings.ReplaceAll(in.Name, "-", "_"))
		if strings.Contains(in.Name, "-") && getenv(under) != "" && gha.GetInput(in.Name) == "" && !set[in.Name] {
			ps = append(ps, Problem{Input: in.Name, Msg: fmt.Sprintf("%s is set, but this input is read from INPUT_%s (hyphens kept, as the runner sets it)", under, strings.ToUpper(in.Name))})
		}
	}

	c := Config{Debug: *debug || getenv("ACTIONS_STEP_DEBUG") == "true", Version: *version}
	if c.Version {
		return c, nil
	}
	bad := func(input, format string, a ...any) {
		ps = append(ps, Problem{Input: input, Msg: fmt.Sprintf(format, a...)})
	}

	c.Sandbox = parseBool(v, "sandbox", bad)
	c.DryRun = parseBool(v, "dry-run", bad)
	c.Revoke = parseBool(v, "revoke", bad)
	c.FailOnUnmatched = parseBool(v, "fail-on-unmatched", bad)

	c.PagerDutyToken = v["pagerduty-token"]
	c.Schedules = parseIDs(v, "pagerduty-schedules", bad)
	c.Policies = parseIDs(v, "pagerduty-escalation-policies", bad)
	c.Levels = parseLevels(v["escalation-levels"], bad)
	c.PagerDutyURL = v["pagerduty-api-url"]
	if u, err := oncall.CheckBaseURL(c.PagerDutyURL); err == nil {
		c.PagerDutyURL = u
	} else if ce := (*oncall.ConfigError)(nil); errors.As(err, &ce) {
		bad(ce.Input, "%s", ce.Msg)
	}
	c.SDMAccessKey = v["sdm-api-access-key"]
	c.SDMSecretKey = v["sdm-api-secret-key"]
	c.SDMHost = v["sdm-api-host"]
	c.Resources = List(v["resources"])
	c.ResourceFilter = v["resource-filter"]
	c.EmailMap = parseEmailMap(v["email-map"], bad)

	var ok bool
	if c.Window, ok = parseDuration(v, "window", bad); ok && (c.Window == 0 || c.Window > MaxWindow) {
		bad("window", "%s is out of range: give a duration above 0 and at most 90 days (2160h), such as 24h", v["window"])
	}
	c.LeadTime, _ = parseDuration(v, "lead-time", bad)
	c.GracePeriod, _ = parseDuration(v, "grace-period", bad)
	c.MaxDuration, _ = parseDuration(v, "max-duration", bad)
	if c.Timeout, ok = parseDuration(v, "timeout", bad); ok && c.Timeout == 0 {
		bad("timeout", "must be above 0, such as 5m")
	}
	c.MaxChanges = parseInt(v, "max-changes", 1, bad)
	c.Concurrency = parseInt(v, "concurrency", 1, bad)
	if c.Concurrency > 64 {
		bad("concurrency", "%d is too many: at most 64 parallel calls stay under strongDM's rate limits", c.Concurrency)
	}

	switch r := strings.ToLower(v["redact"]); r {
	case "auto", "true", "false":
		c.Redact = r
	default:
		bad("redact", "%q is not one of auto, true, false", v["redact"])
	}
	if tz, err := time.LoadLocation(v["time-zone"]); err != nil {
		bad("time-zone", "%q is not an IANA time zone name such as UTC or Europe/Paris", v["time-zone"])
	} else {
		c.TimeZone = tz
	}
	if *at != "" {
		t, err := time.Parse(time.RFC3339, *at)
		if err != nil {
			bad("at", "%q is not an RFC 3339 time such as 2026-03-06T12:00:00Z", *at)
		}
		c.At = t.UTC()
	}

	// The sandbox brings its own services, organisation and credentials.
	if !c.Sandbox {
		if c.PagerDutyToken == "" {
			bad("pagerduty-token", "is required: set the input or PAGERDUTY_TOKEN to a PagerDuty REST API key")
		} else if msg := checkKey(c.PagerDutyToken); msg != "" {
			bad("pagerduty-token", "%s", msg)
		}
		if len(c.Schedules) == 0 && len(c.Policies) == 0 {
			bad("pagerduty-schedules", "give at least one schedule ID here or in pagerduty-escalation-policies")
		}
		if c.SDMAccessKey == "" {
			bad("sdm-api-access-key", "is required: set the input or SDM_API_ACCESS_KEY to a strongDM API access key")
		} else if msg := checkKey(c.SDMAccessKey); msg != "" {
			bad("sdm-api-access-key", "%s", msg)
		}
		if c.SDMSecretKey == "" {
			bad("sdm-api-secret-key", "is required: set the input or SDM_API_SECRET_KEY to the key's base64 secret")
		} else if _, err := base64.StdEncoding.DecodeString(strings.TrimSpace(c.SDMSecretKey)); err != nil {
			hint := ""
			if strings.ContainsAny(c.SDMSecretKey, `"'`) {
				hint = " (remove the quotes around it)"
			}
			bad("sdm-api-secret-key", "is not valid base64%s: paste the secret exactly as strongDM showed it", hint)
		}
		if _, port, err := net.SplitHostPort(c.SDMHost); err != nil || port == "" {
			bad("sdm-api-host", "%q is not host:port, such as app.strongdm.com:443", c.SDMHost)
		}
		if len(c.Resources) == 0 && c.ResourceFilter == "" {
			bad("resources", "give at least one resource name here or a filter in resource-filter")
		}
	}
	if len(ps) > 0 {
		return c, ps
	}
	return c, nil
}

// checkKey says what is wrong with an API key or token, which travels in
// a request header, or returns "". The key itself is never part of it.
func checkKey(k string) string {
	if strings.ContainsAny(k, `"'`) {
		return "has quotes in it: remove the quotes around it"
	}
	for _, r := range k {
		if r <= ' ' || r > '~' {
			return "has a space, a line break or a character outside printable ASCII in it: paste the key alone, on one line"
		}
	}
	return ""
}

// Secrets returns the configured secret values, for masking.
func (c Config) Secrets() []string {
	var s []string
	for _, v := range []string{c.PagerDutyToken, c.SDMAccessKey, c.SDMSecretKey, strings.TrimSpace(c.SDMSecretKey)} {
		if v != "" && !slices.Contains(s, v) {
			s = append(s, v)
		}
	}
	return s
}

// List splits a comma- or newline-separated input into trimmed, non-empty,
// distinct items, in order.
func List(s string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '\n' || r == '\r' }) {
		if f = strings.TrimSpace(f); f != "" && !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out
}

// ParseDuration reads a Go duration (90m, 24h) or a whole number of days
// (7d); "0" and "none" are zero.
func ParseDuration(s string) (time.Duration, error) {
	switch s = strings.TrimSpace(s); s {
	case "", "0", "none":
		return 0, nil
	}
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days < 0 || days > 3650 {
			return 0, fmt.Errorf("%q is not a number of days", s)
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, err
	}
	if d < 0 {
		return 0, fmt.Errorf("%q is negative", s)
	}
	return d, nil
}

// ParseEmailMap reads lines (or comma-separated items) of the form
// "pagerduty-email = strongdm-email" into a map keyed by the lower-cased
// PagerDuty email.
func ParseEmailMap(s string) (map[string]string, error) {
	m := map[string]string{}
	for _, item := range List(s) {
		from, to, ok := strings.Cut(item, "=")
		from, to = strings.ToLower(strings.TrimSpace(from)), strings.ToLower(strings.TrimSpace(to))
		if !ok || !strings.Contains(from, "@") || !strings.Contains(to, "@") {
			return nil, fmt.Errorf("%q is not 'pagerduty-email = strongdm-email'", item)
		}
		if prev, dup := m[from]; dup && prev != to {
			return nil, fmt.Errorf("%s is mapped twice", from)
		}
		m[from] = to
	}
	return m, nil
}

type badFunc func(input, format string, a ...any)

func parseIDs(v map[string]string, name string, bad badFunc) []string {
	ids := List(v[name])
	for _, id := range ids {
		if !oncall.ValidID(id) {
			bad(name, "%q is not a PagerDuty ID (upper-case letters and digits, such as PSCHED1)", id)
		}
	}
	return ids
}

func parseLevels(s string, bad badFunc) []int {
	var levels []int
	if strings.EqualFold(strings.TrimSpace(s), "all") {
		return nil
	}
	for _, f := range List(s) {
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			bad("escalation-levels", "%q is not a level number of 1 or more (or 'all')", f)
			continue
		}
		levels = append(levels, n)
	}
	slices.Sort(levels)
	return slices.Compact(levels)
}

func parseEmailMap(s string, bad badFunc) map[string]string {
	m, err := ParseEmailMap(s)
	if err != nil {
		bad("email-map", "%v", err)
	}
	return m
}

func parseBool(v map[string]string, name string, bad badFunc) bool {
	b, err := strconv.ParseBool(v[name])
	if err != nil {
		bad(name, "%q is not true or false", v[name])
	}
	return b
}

// parseDuration reads one duration input; ok is false when it is not one
// (the problem is recorded).
func parseDuration(v map[string]string, name string, bad badFunc) (d time.Duration, ok bool) {
	d, err := ParseDuration(v[name])
	if err != nil {
		bad(name, "%q is not a duration such as 90m, 24h or 7d", v[name])
		return 0, false
	}
	return d, true
}

func parseInt(v map[string]string, name string, min int, bad badFunc) int {
	n, err := strconv.Atoi(v[name])
	if err != nil || n < min {
		bad(name, "%q is not a whole number of at least %d", v[name], min)
	}
	return n
}

// inputFlag is the flag of one input; it keeps the text, which is checked
// with the inputs from the environment.
type inputFlag struct {
	v      string
	isBool bool
}

func (f *inputFlag) String() string     { return f.v }
func (f *inputFlag) Set(s string) error { f.v = s; return nil }
func (f *inputFlag) IsBoolFlag() bool   { return f.isBool }

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// IsProblems reports whether err is a configuration problem.
func IsProblems(err error) bool {
	var ps Problems
	return errors.As(err, &ps)
}
