package oncall

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/hashicorp/go-retryablehttp"
)

const (
	defaultMaxAttempts = 5
	attemptTimeout     = 30 * time.Second
	minWait            = 1 * time.Second
	maxBackoff         = 30 * time.Second
	// maxHintWait caps what ratelimit-reset or Retry-After may ask for, so a
	// strange header cannot stall the run; the run's deadline bounds the rest.
	maxHintWait = 60 * time.Second
	// maxErrorBody is how much of a non-2xx body is kept for the message.
	maxErrorBody = 64 << 10
	// maxBody bounds a 2xx body; a page of 100 on-calls is far smaller.
	maxBody = 32 << 20
)

// call is the state of one go-pagerduty call, carried in the request's
// context so that concurrent calls on one Source never share it.
type call struct {
	attempts int
	keep     bool   // keep a 2xx body too
	body     []byte // the body of a non-2xx answer, or of any when keep
	err      error  // the transport error, which go-pagerduty flattens
}

type callKey struct{}

func withCall(ctx context.Context) (context.Context, *call) {
	c := &call{}
	return context.WithValue(ctx, callKey{}, c), c
}

func callFrom(ctx context.Context) *call {
	if c, ok := ctx.Value(callKey{}).(*call); ok {
		return c
	}
	return &call{}
}

// doer is the pagerduty.HTTPClient: the retrying client, plus keeping what
// go-pagerduty would lose (the raw error body and the transport error).
type doer struct {
	client *http.Client
}

func (d *doer) Do(req *http.Request) (*http.Response, error) {
	c := callFrom(req.Context())
	resp, err := d.client.Do(req)
	if err != nil {
		c.err = err
		return nil, err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		resp.Body.Close()
		c.body = body
		resp.Body = io.NopCloser(bytes.NewReader(body))
		return resp, nil
	}
	if c.keep {
		body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
		resp.Body.Close()
		if err != nil {
			c.err = err
			return nil, err
		}
		c.body = body
		resp.Body = io.NopCloser(bytes.NewReader(body))
		return resp, nil
	}
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.LimitReader(resp.Body, maxBody), resp.Body}
	return resp, nil
}

// newHTTPClient builds the retrying client. Waiting happens in checkRetry
// through s.sleep (so tests never really wait and ctx is honoured), and the
// library's own Backoff returns 0.
func (s *Source) newHTTPClient(transport http.RoundTripper) *doer {
	rc := retryablehttp.NewClient()
	rc.HTTPClient = &http.Client{
		Transport: transport,
		Timeout:   attemptTimeout,
		// Requests go only to the configured base URL, and a redirect
		// would carry the token elsewhere: never follow one.
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	rc.Logger = nil // logging goes through the hooks, into s.log
	rc.RetryMax = s.maxAttempts - 1
	rc.CheckRetry = s.checkRetry
	rc.Backoff = func(time.Duration, time.Duration, int, *http.Response) time.Duration { return 0 }
	rc.ErrorHandler = passthrough
	rc.RequestLogHook = func(_ retryablehttp.Logger, req *http.Request, i int) {
		s.requests.Add(1)
		s.log.Debug("pagerduty request", "method", req.Method, "path", req.URL.Path,
			"query", req.URL.RawQuery, "attempt", i+1)
	}
	rc.ResponseLogHook = func(_ retryablehttp.Logger, resp *http.Response) {
		s.log.Debug("pagerduty response", "path", resp.Request.URL.Path, "status", resp.StatusCode,
			"ratelimit_remaining", resp.Header.Get("ratelimit-remaining"))
	}
	return &doer{client: rc.StandardClient()}
}

// passthrough lets the last response through so that go-pagerduty reports
// a typed pagerduty.APIError with PagerDuty's message. When there is also an
// error (the context ended during a wait), the error wins and the response
// is closed: net/http would otherwise complain about getting both.
func passthrough(resp *http.Response, err error, n int) (*http.Response, error) {
	if err != nil && resp != nil {
		resp.Body.Close()
		return nil, err
	}
	return retryablehttp.PassthroughErrorHandler(resp, err, n)
}

// checkRetry retries 429, 5xx (except 501) and connection errors, never
// another 4xx, and waits before the next attempt.
func (s *Source) checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	c := callFrom(ctx)
	c.attempts++
	retry, cerr := retryablehttp.DefaultRetryPolicy(ctx, resp, err)
	if !retry || cerr != nil {
		return retry, cerr
	}
	if c.attempts >= s.maxAttempts {
		return true, nil // the budget is spent: retryablehttp stops here
	}
	wait := s.backoff(c.attempts, resp)
	attrs := []any{"attempt", c.attempts, "wait", wait}
	if resp != nil {
		attrs = append(attrs, "path", resp.Request.URL.Path, "status", resp.StatusCode)
	} else {
		attrs = append(attrs, "error", err)
	}
	s.log.Warn("pagerduty retry", attrs...)
	if err := s.sleep(ctx, wait); err != nil {
		return false, err
	}
	return true, nil
}

// backoff is how long to wait after the given failed attempt (1-based).
// PagerDuty's hint is ratelimit-reset (seconds); Retry-After is honoured
// too. Without a hint: exponential from minWait, capped, with jitter.
func (s *Source) backoff(attempt int, resp *http.Response) time.Duration {
	if resp != nil {
		if d, ok := hint(resp.Header); ok {
			// Jitter upwards only: waking before the reset is wasted.
			d += time.Duration(s.rand() * float64(d) / 10)
			return min(max(d, minWait), maxHintWait)
		}
	}
	base := maxBackoff
	if attempt < 16 {
		base = min(minWait<<(attempt-1), maxBackoff)
	}
	// Half fixed, half random, so parallel clients spread out.
	return base/2 + time.Duration(s.rand()*float64(base/2))
}

// hint reads ratelimit-reset or Retry-After (seconds or an HTTP date).
func hint(h http.Header) (time.Duration, bool) {
	for _, name := range []string{"ratelimit-reset", "Retry-After"} {
		v := h.Get(name)
		if v == "" {
			continue
		}
		if f, err := strconv.ParseFloat(v, 64); err == nil && f >= 0 && !math.IsInf(f, 0) {
			return time.Duration(min(f, maxHintWait.Seconds()) * float64(time.Second)), true
		}
		if t, err := http.ParseTime(v); err == nil {
			return max(time.Until(t), 0), true
		}
	}
	return 0, false
}

var discard = slog.New(slog.DiscardHandler)
