package apply

import (
	"context"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/iam"
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
type WriteGate struct{ sem chan struct{} }

// NewWriteGate admits n writes in flight at once (at least one).
func NewWriteGate(n int) *WriteGate { return &WriteGate{sem: make(chan struct{}, max(n, 1))} }

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
	release, err := token()
	if err != nil {
		<-r.gate.sem
		return nil, err
	}
	return func(err error) error {
		defer func() { <-r.gate.sem }()
		return release(err)
	}, nil
}

// IsWrite reports whether an IAM operation changes something: every
// operation but Get*, List* and the waiters' reads.
func IsWrite(operation string) bool {
	return operation != "" && !strings.HasPrefix(operation, "Get") && !strings.HasPrefix(operation, "List")
}
