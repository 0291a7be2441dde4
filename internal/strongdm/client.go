// Package strongdm is a small client of the strongDM control-plane API: the
// resource, account and account-grant calls oncall-access needs, spoken
// directly over gRPC because the official SDK is not available here.
//
// Requests are encoded with the proto subset in sdmpb, signed as the SDK
// signs them (see Sign) and sent byte for byte as signed. Every call follows
// one retry policy: Unavailable, Internal and DeadlineExceeded are retried
// with capped exponential backoff and jitter, up to Config.MaxAttempts
// attempts; ResourceExhausted waits until the reset_at of the rate-limit
// detail, a bounded number of times, and never past the context deadline;
// every other code is returned at once. Returned errors wrap the gRPC status
// error, so status.Code and IsCode see its code.
package strongdm

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/oncall-access/oncall-access/internal/clock"
	"github.com/oncall-access/oncall-access/internal/strongdm/sdmpb"
)

const (
	// APIVersion is the x-sdm-api-version the client sends.
	APIVersion = "2025-04-14"
	// SDKUserAgent is the x-sdm-user-agent the client sends: the official SDK
	// version whose requests it reproduces. Our own name goes in the gRPC
	// user-agent instead, so the x-sdm-* headers stay the SDK's.
	SDKUserAgent = "strongdm-sdk-go/17.8.0"

	defaultMaxAttempts = 4
	// maxRateLimitWaits bounds the ResourceExhausted retries, which do not
	// count against MaxAttempts.
	maxRateLimitWaits = 10
	backoffBase       = time.Second
	backoffCap        = 30 * time.Second
)

// Config configures a Client. Host, AccessKey and SecretKey are required.
type Config struct {
	Host      string // host:port, such as app.strongdm.com:443
	AccessKey string
	SecretKey string // standard base64, surrounding whitespace ignored

	// RootCAs verifies the server; nil means the system roots, which honour
	// SSL_CERT_FILE. TLS is always on.
	RootCAs *x509.CertPool

	// Now dates the signatures and measures rate-limit waits; nil means
	// time.Now.
	Now func() time.Time
	// Sleep waits between attempts; nil means a real timer that returns
	// early with ctx.Err() when ctx is done.
	Sleep func(ctx context.Context, d time.Duration) error
	// MaxAttempts bounds the attempts per call on transient errors; 0 means 4.
	MaxAttempts int
	// PageLimit is the page size of list calls; 0 leaves it to the server (50).
	PageLimit int
	// ReadsPerMinute and WritesPerMinute pace every attempt (each page
	// too) through token buckets read by Now and waited out with Sleep, so
	// that a large run stays under strongDM's per-key limits instead of
	// being refused; 0 means 4,500 and 450, nine tenths of the documented
	// 5,000 and 500.
	ReadsPerMinute, WritesPerMinute int
	// Rand returns numbers in [0, 1) for backoff jitter; nil means math/rand/v2.
	Rand func() float64
	// Logger gets a debug line per call and a warning per retry; nil
	// discards. Keys and signatures are never logged.
	Logger *slog.Logger
}

// Client calls the strongDM API. It is safe for concurrent use.
type Client struct {
	conn        *grpc.ClientConn
	accessKey   string
	secret      []byte
	now         func() time.Time
	sleep       func(ctx context.Context, d time.Duration) error
	rand        func() float64
	log         *slog.Logger
	maxAttempts int
	pageLimit   int
	readLimit   *bucket
	writeLimit  *bucket

	reads, writes atomic.Int64 // requests sent, retries included
}

// New checks cfg and returns a Client. It does not connect: the connection
// is made by the first call.
func New(cfg Config) (*Client, error) {
	host := strings.TrimSpace(cfg.Host)
	if host == "" {
		return nil, errors.New("strongdm host is empty")
	}
	accessKey := strings.TrimSpace(cfg.AccessKey)
	if accessKey == "" {
		return nil, errors.New("strongdm access key is empty")
	}
	secret, err := DecodeSecret(cfg.SecretKey)
	if err != nil {
		return nil, fmt.Errorf("strongdm %w", err)
	}
	if cfg.MaxAttempts < 0 || cfg.PageLimit < 0 || cfg.ReadsPerMinute < 0 || cfg.WritesPerMinute < 0 {
		return nil, fmt.Errorf("strongdm max attempts %d, page limit %d, reads %d and writes %d a minute must not be negative",
			cfg.MaxAttempts, cfg.PageLimit, cfg.ReadsPerMinute, cfg.WritesPerMinute)
	}

	creds := credentials.NewTLS(&tls.Config{RootCAs: cfg.RootCAs, MinVersion: tls.VersionTLS12})
	conn, err := grpc.NewClient(host,
		grpc.WithTransportCredentials(creds),
		grpc.WithUserAgent("oncall-access"),
		grpc.WithDefaultCallOptions(grpc.ForceCodec(rawCodec{})),
	)
	if err != nil {
		return nil, fmt.Errorf("strongdm client for %s: %w", host, err)
	}

	c := &Client{
		conn:        conn,
		accessKey:   accessKey,
		secret:      secret,
		now:         cfg.Now,
		sleep:       cfg.Sleep,
		rand:        cfg.Rand,
		log:         cfg.Logger,
		maxAttempts: cfg.MaxAttempts,
		pageLimit:   cfg.PageLimit,
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.sleep == nil {
		c.sleep = clock.Sleep
	}
	if c.rand == nil {
		c.rand = rand.Float64
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.maxAttempts == 0 {
		c.maxAttempts = defaultMaxAttempts
	}
	c.readLimit = newBucket(cmp.Or(cfg.ReadsPerMinute, defaultReadsPerMinute))
	c.writeLimit = newBucket(cmp.Or(cfg.WritesPerMinute, defaultWritesPerMinute))
	return c, nil
}

// Calls returns how many requests the client has sent, retries included:
// reads (list calls) and writes (creates and deletes), the two budgets of
// strongDM's rate limits.
func (c *Client) Calls() (reads, writes int) {
	return int(c.reads.Load()), int(c.writes.Load())
}

// Close closes the connection.
func (c *Client) Close() error {
	return c.conn.Close()
}

// op describes one kind of call, for signing and for error messages.
type op struct {
	method string // "Service.Method", as signed
	what   string // what the caller was doing, such as "delete grant ag-1"
	perm   string // the API key permission the call needs
}

// call sends req and decodes the answer into resp, retrying as the package
// doc says. The request is marshalled once and the same bytes are signed and
// sent on every attempt; only the signature date can change.
func (c *Client) call(ctx context.Context, o op, req, resp proto.Message) error {
	body, err := proto.MarshalOptions{Deterministic: true}.Marshal(req)
	if err != nil {
		return fmt.Errorf("%s: encode request: %w", o.what, err)
	}
	fullMethod := "/v1." + strings.Replace(o.method, ".", "/", 1)

	var (
		attempts    int  // attempts that counted against maxAttempts
		rateLimited int  // ResourceExhausted answers so far
		mayApplied  bool // an earlier attempt failed transiently and may have been applied
	)
	for {
		attempts++
		start := c.now()
		err := c.invoke(ctx, o.method, fullMethod, body, resp)
		code := status.Code(err)
		c.log.DebugContext(ctx, "strongdm call", "method", o.method, "attempt", attempts,
			"code", code.String(), "duration", c.now().Sub(start))
		if err == nil {
			return nil
		}

		var wait time.Duration
		switch {
		case ctx.Err() != nil:
			// Our own deadline or cancellation: retrying cannot help.
			return fmt.Errorf("%s: %w", o.what, err)

		case code == codes.AlreadyExists && mayApplied:
			// A timed-out attempt probably created it: the caller may count
			// this as done.
			return fmt.Errorf("%s: %w: %w", o.what, ErrExistsAfterRetry, err)

		case code == codes.PermissionDenied:
			return fmt.Errorf("%s: the api key needs permission %s: %w", o.what, o.perm, err)

		case code == codes.ResourceExhausted:
			attempts-- // rate limiting has its own budget
			rateLimited++
			if rateLimited > maxRateLimitWaits {
				return fmt.Errorf("%s: still rate limited after %d waits: %w", o.what, maxRateLimitWaits, err)
			}
			wait = c.rateLimitWait(err, rateLimited)

		case retryable(code):
			if attempts >= c.maxAttempts {
				return fmt.Errorf("%s: giving up after %d attempts: %w", o.what, attempts, err)
			}
			mayApplied = true
			wait = c.backoff(attempts)

		default:
			return fmt.Errorf("%s: %w", o.what, err)
		}

		// Fail now rather than sleep into the deadline: the run's report is
		// more useful than a context error after a long wait.
		if dl, ok := ctx.Deadline(); ok && wait > time.Until(dl) {
			return fmt.Errorf("%s: retry would wait %s, past the deadline: %w", o.what, wait, err)
		}
		c.log.WarnContext(ctx, "strongdm call failed, retrying", "method", o.method,
			"code", code.String(), "attempt", attempts, "wait", wait)
		if serr := c.sleep(ctx, wait); serr != nil {
			return fmt.Errorf("%s: waiting %s to retry: %w (last error: %w)", o.what, wait, serr, err)
		}
	}
}

// invoke makes one signed attempt.
func (c *Client) invoke(ctx context.Context, method, fullMethod string, body []byte, resp proto.Message) error {
	limit, count := c.writeLimit, &c.writes
	if strings.HasSuffix(method, ".List") {
		limit, count = c.readLimit, &c.reads
	}
	if err := limit.wait(ctx, c.now, c.sleep); err != nil {
		return fmt.Errorf("wait for strongDM's rate limit: %w", err)
	}
	count.Add(1)

	// A fresh map replaces any outgoing metadata, as the SDK does.
	md := metadata.Pairs(
		"x-sdm-authentication", c.accessKey,
		"x-sdm-signature", Sign(c.secret, c.now(), method, body),
		"x-sdm-api-version", APIVersion,
		"x-sdm-user-agent", SDKUserAgent,
	)
	return c.conn.Invoke(metadata.NewOutgoingContext(ctx, md), fullMethod, rawMessage(body), resp)
}

// retryable reports whether an error with this code is transient.
func retryable(code codes.Code) bool {
	switch code {
	case codes.Unavailable, codes.Internal, codes.DeadlineExceeded:
		return true
	}
	return false
}

// backoff returns the wait before retry n (n ≥ 1): 1s doubling to a cap of
// 30s, each multiplied by a random factor in [0.8, 1.2).
func (c *Client) backoff(n int) time.Duration {
	d := backoffBase << min(n-1, 10)
	d = min(d, backoffCap)
	return time.Duration(float64(d) * (0.8 + 0.4*c.rand()))
}

// rateLimitWait returns how long to wait after the n-th ResourceExhausted
// answer: until reset_at when the status carries a v1.RateLimitMetadata
// detail with a reset time still ahead, else the ordinary backoff (the
// server's clock may be behind ours).
func (c *Client) rateLimitWait(err error, n int) time.Duration {
	if rl := RateLimit(err); rl != nil && rl.GetResetAt() != nil {
		if d := rl.GetResetAt().AsTime().Sub(c.now()); d > 0 {
			return d
		}
	}
	return c.backoff(n)
}

// RateLimit returns the v1.RateLimitMetadata detail of a ResourceExhausted
// error (through any wrapping), or nil when there is none.
func RateLimit(err error) *sdmpb.RateLimitMetadata {
	st, ok := status.FromError(err)
	if !ok {
		return nil
	}
	for _, d := range st.Details() {
		if rl, ok := d.(*sdmpb.RateLimitMetadata); ok {
			return rl
		}
	}
	return nil
}

// rawMessage is a request already marshalled, so that what is signed is
// exactly what is sent.
type rawMessage []byte

// rawCodec sends rawMessage as is and decodes answers as protobuf.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) {
	b, ok := v.(rawMessage)
	if !ok {
		return nil, fmt.Errorf("strongdm codec cannot send %T", v)
	}
	return b, nil
}

func (rawCodec) Unmarshal(data []byte, v any) error {
	m, ok := v.(proto.Message)
	if !ok {
		return fmt.Errorf("strongdm codec cannot decode into %T", v)
	}
	return proto.Unmarshal(data, m)
}

// Name is "proto" so the content type is the one the server expects.
func (rawCodec) Name() string { return "proto" }
