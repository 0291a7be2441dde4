package strongdmtest

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/oncall-access/oncall-access/internal/clock"
	"github.com/oncall-access/oncall-access/internal/strongdm"
	"github.com/oncall-access/oncall-access/internal/strongdm/sdmpb"
)

// Server is a running strongDM emulator. Its methods are safe for
// concurrent use, also while calls are being served.
type Server struct {
	addr  string
	caPEM []byte
	pool  *x509.CertPool
	grpc  *grpc.Server
	close sync.Once

	mu               sync.Mutex // guards all below
	accessKey        string
	secretB64        string
	secret           []byte
	st               *state
	allowMultiple    bool
	pageBeforeFilter bool
	now              func() time.Time
	sleep            func(ctx context.Context, d time.Duration) error
	latency          time.Duration
	faults           map[string][]*fault
	counts           map[string]int
	requests         []Request
	seq              int // for grant ids
}

// Request is one call as the emulator received it.
type Request struct {
	Method   string            // full method, such as "/v1.AccountGrants/Create"
	Metadata map[string]string // the x-sdm-* headers
	Body     []byte            // the request bytes
}

// NewServer starts an emulator on 127.0.0.1 serving org, with new random
// API keys and a new CA. Close it when done.
func NewServer(org Org) (*Server, error) {
	access := make([]byte, 12)
	secret := make([]byte, 32)
	rand.Read(access)
	rand.Read(secret)
	s := &Server{
		accessKey: "auth-" + fmt.Sprintf("%x", access),
		secretB64: base64.StdEncoding.EncodeToString(secret),
		secret:    secret,
		now:       time.Now,
		sleep:     clock.Sleep,
		faults:    make(map[string][]*fault),
		counts:    make(map[string]int),
	}
	if err := s.SetOrg(org); err != nil {
		return nil, fmt.Errorf("strongdm emulator: %w", err)
	}

	cert, caPEM, pool, err := newCert()
	if err != nil {
		return nil, fmt.Errorf("strongdm emulator certificate: %w", err)
	}
	s.caPEM, s.pool = caPEM, pool

	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("strongdm emulator listen: %w", err)
	}
	s.addr = lis.Addr().String()
	s.grpc = grpc.NewServer(
		grpc.Creds(credentials.NewServerTLSFromCert(&cert)),
		grpc.ForceServerCodec(rawCodec{}),
		grpc.UnknownServiceHandler(s.handle),
	)
	go s.grpc.Serve(lis)
	return s, nil
}

// Addr returns the host:port the emulator listens on.
func (s *Server) Addr() string { return s.addr }

// AccessKey returns the API access key the emulator accepts.
func (s *Server) AccessKey() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accessKey
}

// SecretKey returns the API secret key, base64 encoded as strongDM shows it.
func (s *Server) SecretKey() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.secretB64
}

// SetKeys replaces the API keys, for replaying calls signed with known keys.
func (s *Server) SetKeys(accessKey, secretKey string) error {
	secret, err := strongdm.DecodeSecret(secretKey)
	if err != nil {
		return fmt.Errorf("set emulator keys: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.accessKey, s.secretB64, s.secret = accessKey, secretKey, secret
	return nil
}

// CertPool returns a pool holding the emulator's CA, for Config.RootCAs.
func (s *Server) CertPool() *x509.CertPool { return s.pool }

// CACertPEM returns the emulator's CA certificate, for SSL_CERT_FILE.
func (s *Server) CACertPEM() []byte { return s.caPEM }

// Close stops the server, ending calls in progress.
func (s *Server) Close() {
	s.close.Do(s.grpc.Stop)
}

// SetOrg replaces the whole state (counters, faults and settings stay).
func (s *Server) SetOrg(org Org) error {
	st, err := newState(org)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st = st
	for i := range st.grants {
		if st.grants[i].ID == "" {
			st.grants[i].ID = s.newGrantIDLocked()
		}
	}
	return nil
}

// AddGrant stores g as is, bypassing the one-grant-per-pair rule, and
// returns it with its id (generated when empty).
func (s *Server) AddGrant(g strongdm.Grant) (strongdm.Grant, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.st.accByID[g.AccountID] || !s.st.resByID[g.ResourceID] {
		return strongdm.Grant{}, fmt.Errorf("add grant: unknown account %q or resource %q", g.AccountID, g.ResourceID)
	}
	if g.ID == "" {
		g.ID = s.newGrantIDLocked()
	} else if s.grantIndexLocked(g.ID) >= 0 {
		return strongdm.Grant{}, fmt.Errorf("add grant: id %q exists", g.ID)
	}
	s.st.grants = append(s.st.grants, g)
	return g, nil
}

// Grants returns the unexpired grants, in the order they were made.
func (s *Server) Grants() []strongdm.Grant {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pruneLocked()
	return append([]strongdm.Grant(nil), s.st.grants...)
}

// AllowMultipleGrants lets an account hold several unexpired grants of the
// same resource, in case strongDM turns out to allow it.
func (s *Server) AllowMultipleGrants(allow bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.allowMultiple = allow
}

// PageBeforeFilter makes list calls cut their page before filtering it, so
// a page can be empty while more follow (the official SDK stops there).
func (s *Server) PageBeforeFilter(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pageBeforeFilter = on
}

// SetClock sets the emulator's clock, which dates signatures, starts grants
// and expires them; nil means time.Now.
func (s *Server) SetClock(now func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if now == nil {
		now = time.Now
	}
	s.now = now
}

// SetLatency delays every call by d, through the sleep set by SetSleep.
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// SetSleep sets how the emulator waits out its latency; nil means a real
// timer that ends early when the call is cancelled.
func (s *Server) SetSleep(sleepFn func(ctx context.Context, d time.Duration) error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sleepFn == nil {
		sleepFn = clock.Sleep
	}
	s.sleep = sleepFn
}

// Calls returns how many calls of method ("AccountGrants.Create") arrived,
// rejected and failed ones included.
func (s *Server) Calls(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[method]
}

// Counts returns the number of calls per method.
func (s *Server) Counts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.counts)
}

// Reads returns the number of List calls, as strongDM's rate limits count
// reads.
func (s *Server) Reads() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for m, c := range s.counts {
		if strings.HasSuffix(m, ".List") {
			n += c
		}
	}
	return n
}

// Writes returns the number of Create and Delete calls.
func (s *Server) Writes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for m, c := range s.counts {
		if !strings.HasSuffix(m, ".List") {
			n += c
		}
	}
	return n
}

// Requests returns the calls received since the start or ResetCounts.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// ResetCounts zeroes the call counters and forgets the recorded requests.
func (s *Server) ResetCounts() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.counts)
	s.requests = nil
}

// handle serves every call: the emulator has no generated service code, so
// all methods arrive here as unknown services.
func (s *Server) handle(_ any, stream grpc.ServerStream) error {
	full, _ := grpc.MethodFromServerStream(stream)
	var body []byte
	if err := stream.RecvMsg(&body); err != nil {
		return err
	}
	resp, err := s.serve(stream.Context(), full, body)
	if err != nil {
		return err
	}
	return stream.SendMsg(resp)
}

// serve records, delays, authenticates, injects faults and dispatches one
// call.
func (s *Server) serve(ctx context.Context, full string, body []byte) (proto.Message, error) {
	method := strings.Replace(strings.TrimPrefix(full, "/v1."), "/", ".", 1)
	md, _ := metadata.FromIncomingContext(ctx)
	header := func(k string) string {
		if v := md.Get(k); len(v) > 0 {
			return v[0]
		}
		return ""
	}

	s.mu.Lock()
	s.counts[method]++
	req := Request{Method: full, Metadata: make(map[string]string), Body: body}
	for k := range md {
		if strings.HasPrefix(k, "x-sdm-") {
			req.Metadata[k] = header(k)
		}
	}
	s.requests = append(s.requests, req)
	latency, sleepFn := s.latency, s.sleep
	s.mu.Unlock()

	if latency > 0 {
		if err := sleepFn(ctx, latency); err != nil {
			return nil, status.FromContextError(err).Err()
		}
	}

	h, ok := handlers[method]
	if !ok {
		return nil, status.Errorf(codes.Unimplemented, "unknown method %s", full)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.authenticateLocked(method, body, header); err != nil {
		return nil, err
	}
	f := s.takeFaultLocked(method)
	if f != nil && !f.apply {
		return nil, f.status()
	}
	s.pruneLocked()
	resp, err := h(s, body)
	if f != nil {
		return nil, f.status()
	}
	return resp, err
}

// authenticateLocked checks the headers as strongDM does.
func (s *Server) authenticateLocked(method string, body []byte, header func(string) string) error {
	if subtle.ConstantTimeCompare([]byte(header("x-sdm-authentication")), []byte(s.accessKey)) != 1 {
		return status.Error(codes.Unauthenticated, "invalid access key")
	}
	want := strongdm.Sign(s.secret, s.now(), method, body)
	if subtle.ConstantTimeCompare([]byte(header("x-sdm-signature")), []byte(want)) != 1 {
		return status.Error(codes.Unauthenticated, "invalid signature")
	}
	if v := header("x-sdm-api-version"); v != strongdm.APIVersion {
		return status.Errorf(codes.InvalidArgument, "unsupported api version %q", v)
	}
	return nil
}

// pruneLocked drops the grants that have expired by the emulator's clock.
func (s *Server) pruneLocked() {
	now := s.now()
	s.st.grants = slices.DeleteFunc(s.st.grants, func(g strongdm.Grant) bool {
		return !g.End.IsZero() && g.End.Before(now)
	})
}

func (s *Server) newGrantIDLocked() string {
	for {
		s.seq++
		id := fmt.Sprintf("ag-%016x", s.seq)
		if s.grantIndexLocked(id) < 0 {
			return id
		}
	}
}

func (s *Server) grantIndexLocked(id string) int {
	for i, g := range s.st.grants {
		if g.ID == id {
			return i
		}
	}
	return -1
}

// fault is a scripted failure of the next calls of one method.
type fault struct {
	left    int // calls still to fail; negative: every call
	code    codes.Code
	msg     string
	resetAt time.Time // when set, a v1.RateLimitMetadata detail is added
	apply   bool      // serve the call, then fail
}

// FaultOption refines a Fail.
type FaultOption func(*fault)

// WithRateLimit adds a v1.RateLimitMetadata status detail whose reset_at
// is resetAt, as strongDM sends with RESOURCE_EXHAUSTED.
func WithRateLimit(resetAt time.Time) FaultOption {
	return func(f *fault) { f.resetAt = resetAt }
}

// ApplyThenFail makes the call take effect before it fails, like a create
// that was stored but whose answer timed out.
func ApplyThenFail() FaultOption {
	return func(f *fault) { f.apply = true }
}

// WithMessage sets the status message.
func WithMessage(msg string) FaultOption {
	return func(f *fault) { f.msg = msg }
}

// Fail makes the next times calls of method (such as "AccountGrants.Create")
// that pass authentication fail with code; a negative times fails every
// call until ClearFaults. Faults queue up in the order given.
func (s *Server) Fail(method string, times int, code codes.Code, opts ...FaultOption) {
	if times == 0 {
		return
	}
	f := &fault{left: times, code: code, msg: "injected " + code.String()}
	if code == codes.ResourceExhausted {
		f.msg = "rate limit exceeded"
	}
	for _, o := range opts {
		o(f)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[method] = append(s.faults[method], f)
}

// ClearFaults removes every scripted fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.faults)
}

func (s *Server) takeFaultLocked(method string) *fault {
	q := s.faults[method]
	if len(q) == 0 {
		return nil
	}
	f := q[0]
	if f.left > 0 {
		f.left--
		if f.left == 0 {
			s.faults[method] = q[1:]
		}
	}
	return f
}

func (f *fault) status() error {
	st := status.New(f.code, f.msg)
	if !f.resetAt.IsZero() {
		d, err := st.WithDetails(&sdmpb.RateLimitMetadata{
			Limit:   500,
			ResetAt: timestamppb.New(f.resetAt),
			Bucket:  "default",
		})
		if err == nil {
			st = d
		}
	}
	return st.Err()
}

// rawCodec hands request bytes over unparsed, so the signature is checked
// over exactly what arrived, and marshals answers deterministically.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) {
	m, ok := v.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("emulator codec cannot send %T", v)
	}
	return proto.MarshalOptions{Deterministic: true}.Marshal(m)
}

func (rawCodec) Unmarshal(data []byte, v any) error {
	b, ok := v.(*[]byte)
	if !ok {
		return errors.New("emulator codec decodes into *[]byte only")
	}
	*b = append([]byte(nil), data...)
	return nil
}

func (rawCodec) Name() string { return "proto" }
