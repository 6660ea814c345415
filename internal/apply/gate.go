package apply

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"golang.org/x/time/rate"
)

// WriteGate bounds the IAM writes in flight, per attempt. It wraps the
// client's retryer: an attempt takes a slot before it asks the retryer for
// its attempt token (the adaptive retryer's rate limiter waits there) and
// gives it back as soon as the response is in, before the retryer backs
// off. So the attempts waiting for the rate limiter are few and served
// first come first served (Go serves blocked channel senders in order),
// none waits past its per-call timeout in a crowd the limiter serves in
// no order, and a write backing off from a throttle frees its slot for
// another: under a write rate limit the limit, not the gate, paces the
// writes.
//
// It also paces the writes (pacer): the adaptive retryer cuts its rate to
// 70 % at each throttle and regrows it over seconds, a sawtooth that costs
// a few per cent of a long sweep; the pacer holds the writes at the rate
// the service admitted when it last throttled, so throttles become rare,
// and it alone reacts to a write throttle (the retryer still retries it,
// with its backoff, but does not cut its rate for it).
type WriteGate struct {
	sem  chan struct{}
	pace *pacer
}

// NewWriteGate admits n writes in flight at once (at least one).
func NewWriteGate(n int) *WriteGate {
	return &WriteGate{sem: make(chan struct{}, max(n, 1)), pace: newPacer()}
}

// Option installs the gate in an IAM client: iam.NewFromConfig(cfg,
// gate.Option()).
func (g *WriteGate) Option() func(*iam.Options) {
	return func(o *iam.Options) { o.Retryer = &gatedRetryer{Retryer: o.Retryer, gate: g} }
}

// gatedRetryer is a retryer whose attempt tokens of writes pass the gate.
type gatedRetryer struct {
	aws.Retryer
	gate *WriteGate
}

var _ aws.RetryerV2 = (*gatedRetryer)(nil)

// GetAttemptToken waits for a slot (writes only), then for the wrapped
// retryer's token; the release gives both back.
func (r *gatedRetryer) GetAttemptToken(ctx context.Context) (func(error) error, error) {
	token := func() (func(error) error, error) {
		if v2, ok := r.Retryer.(aws.RetryerV2); ok {
			return v2.GetAttemptToken(ctx)
		}
		return r.Retryer.GetInitialToken(), nil
	}
	if !IsWrite(awsmiddleware.GetOperationName(ctx)) {
		return token()
	}
	select {
	case r.gate.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	// Paced inside the gate: only the writes holding a slot wait for the
	// pacer, so its reservations are as few as the slots.
	if err := r.gate.pace.wait(ctx); err != nil {
		<-r.gate.sem
		return nil, err
	}
	release, err := token()
	if err != nil {
		<-r.gate.sem
		return nil, err
	}
	return func(err error) error {
		defer func() { <-r.gate.sem }()
		r.gate.pace.done(time.Now(), err)
		if isThrottle(err) {
			// The pacer has reacted; the wrapped (adaptive) retryer is not
			// told it was a throttle, or its cut would come on top.
			err = errPacedThrottle
		}
		return release(err)
	}, nil
}

// errPacedThrottle is what the wrapped retryer's attempt token learns of a
// write throttle: an error (so no success is counted), not a throttle.
var errPacedThrottle = errors.New("IAM throttled the write; the write gate's pacer slows the writes down")

func isThrottle(err error) bool {
	return err != nil && retry.IsErrorThrottles(retry.DefaultThrottles).IsErrorThrottle(err) == aws.TrueTernary
}

// Pacing: the writes are unpaced until the first throttle. At a throttle
// the writes that succeeded in the last paceWindow are the rate the
// service admits, and the pacer spaces writes at that rate; each second
// without a throttle it tries paceProbe more, so a limit that rose is
// found again. Several throttles at once set the same rate, so they do
// not compound as the adaptive retryer's cuts do.
const (
	paceWindow = 3 * time.Second
	paceProbe  = 1.01
	// paceSample is the fewest successes a rate is measured from; with
	// fewer (a throttle on the first writes) the pacing stays as it is.
	paceSample = 5
)

type pacer struct {
	lim *rate.Limiter

	mu        sync.Mutex
	first     time.Time   // the first write's end
	successes []time.Time // of the last paceWindow
	adjusted  time.Time   // the rate's last change
}

func newPacer() *pacer { return &pacer{lim: rate.NewLimiter(rate.Inf, 1)} }

func (p *pacer) wait(ctx context.Context) error { return p.lim.Wait(ctx) }

// limit is the current rate, in writes a second (rate.Inf: unpaced).
func (p *pacer) limit() rate.Limit { return p.lim.Limit() }

// done records a write's outcome at now.
func (p *pacer) done(now time.Time, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.first.IsZero() {
		p.first = now
	}
	keep := p.successes[:0]
	for _, t := range p.successes {
		if now.Sub(t) <= paceWindow {
			keep = append(keep, t)
		}
	}
	p.successes = keep
	if !isThrottle(err) {
		if err == nil {
			p.successes = append(p.successes, now)
		}
		if l := p.lim.Limit(); l != rate.Inf && now.Sub(p.adjusted) >= time.Second {
			p.lim.SetLimitAt(now, l*paceProbe)
			p.adjusted = now
		}
		return
	}
	if len(p.successes) < paceSample {
		return
	}
	span := min(paceWindow, now.Sub(p.first))
	if span <= 0 {
		return
	}
	p.lim.SetBurstAt(now, 1)
	p.lim.SetLimitAt(now, rate.Limit(float64(len(p.successes))/span.Seconds()))
	p.adjusted = now
}

// IsWrite reports whether an IAM operation changes something: every
// operation but Get*, List* and the waiters' reads.
func IsWrite(operation string) bool {
	return operation != "" && !strings.HasPrefix(operation, "Get") && !strings.HasPrefix(operation, "List")
}
