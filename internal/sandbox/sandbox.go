// Package sandbox runs both emulators, PagerDuty's and strongDM's, on
// loopback ports, seeded with an organisation, and points a run at them: a
// newcomer sees the whole job work without an account anywhere.
package sandbox

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/oncall-access/oncall-access/internal/config"
	"github.com/oncall-access/oncall-access/internal/job"
	"github.com/oncall-access/oncall-access/internal/pagerdutytest"
	"github.com/oncall-access/oncall-access/internal/strongdmtest"
)

// Sandbox is a running pair of emulators.
type Sandbox struct {
	PagerDuty *pagerdutytest.Server
	StrongDM  *strongdmtest.Server
	org       Org
	dir       string           // holds the CA file
	now       func() time.Time // nil: the real clock
}

// Start serves the sample organisation with shifts around at (now when
// zero).
func Start(at time.Time) (*Sandbox, error) {
	if at.IsZero() {
		return Serve(Sample(time.Now()))
	}
	s, err := Serve(Sample(at))
	if err != nil {
		return nil, err
	}
	// Replays run on a clock that reads at when the sandbox starts, so
	// that grants expire (and requests are signed) as they would have then.
	offset := time.Until(at)
	s.now = func() time.Time { return time.Now().Add(offset) }
	s.StrongDM.SetClock(s.now)
	s.PagerDuty.SetClock(s.now)
	return s, nil
}

// Serve serves org.
func Serve(org Org) (*Sandbox, error) {
	sdm, err := strongdmtest.NewServer(org.StrongDM)
	if err != nil {
		return nil, fmt.Errorf("start the strongDM emulator: %w", err)
	}
	s := &Sandbox{PagerDuty: pagerdutytest.NewServer(org.PagerDuty), StrongDM: sdm, org: org}
	return s, nil
}

// Configure points cfg and env at the emulators. Schedules and resources
// the configuration does not name are the organisation's own.
func (s *Sandbox) Configure(cfg config.Config, env job.Env) (config.Config, job.Env) {
	cfg.PagerDutyURL = s.PagerDuty.URL()
	cfg.PagerDutyToken = s.PagerDuty.Token()
	cfg.SDMHost = s.StrongDM.Addr()
	cfg.SDMAccessKey = s.StrongDM.AccessKey()
	cfg.SDMSecretKey = s.StrongDM.SecretKey()
	if len(cfg.Schedules) == 0 && len(cfg.Policies) == 0 {
		cfg.Schedules, cfg.Policies = s.org.Schedules, s.org.Policies
	}
	if len(cfg.Resources) == 0 && cfg.ResourceFilter == "" {
		cfg.Resources = s.org.Resources
	}
	env.SDMRootCAs = s.StrongDM.CertPool()
	if s.now != nil {
		env.Now = s.now
	}
	return cfg, env
}

// Info is how another program reaches the emulators.
type Info struct {
	PagerDutyURL   string   `json:"pagerduty_api_url"`
	PagerDutyToken string   `json:"pagerduty_token"`
	SDMHost        string   `json:"sdm_api_host"`
	SDMAccessKey   string   `json:"sdm_api_access_key"`
	SDMSecretKey   string   `json:"sdm_api_secret_key"`
	CAFile         string   `json:"ca_file"` // give it to the client as SSL_CERT_FILE
	Schedules      []string `json:"schedules"`
	Policies       []string `json:"escalation_policies,omitempty"`
	Resources      []string `json:"resources"`
}

// Info writes the CA certificate of the strongDM emulator to a file and
// returns the addresses and credentials of both emulators.
func (s *Sandbox) Info() (Info, error) {
	if s.dir == "" {
		dir, err := os.MkdirTemp("", "oncall-access-sandbox-")
		if err != nil {
			return Info{}, fmt.Errorf("make a folder for the CA file: %w", err)
		}
		s.dir = dir
	}
	ca := filepath.Join(s.dir, "ca.pem")
	if err := os.WriteFile(ca, s.StrongDM.CACertPEM(), 0o644); err != nil {
		return Info{}, fmt.Errorf("write the CA file: %w", err)
	}
	return Info{
		PagerDutyURL: s.PagerDuty.URL(), PagerDutyToken: s.PagerDuty.Token(),
		SDMHost: s.StrongDM.Addr(), SDMAccessKey: s.StrongDM.AccessKey(), SDMSecretKey: s.StrongDM.SecretKey(),
		CAFile: ca, Schedules: s.org.Schedules, Policies: s.org.Policies, Resources: s.org.Resources,
	}, nil
}

// JSON is the info as indented JSON.
func (i Info) JSON() string {
	b, _ := json.MarshalIndent(i, "", "  ")
	return string(b)
}

// Close stops both emulators and removes the CA file.
func (s *Sandbox) Close() {
	s.PagerDuty.Close()
	s.StrongDM.Close()
	if s.dir != "" {
		os.RemoveAll(s.dir)
	}
}
