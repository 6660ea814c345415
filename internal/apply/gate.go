package apply

import (
	"context"
	"strings"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/smithy-go/middleware"
)

// WriteGate bounds the IAM writes in flight, per attempt: it sits inside
// the SDK's retry loop, so an attempt holds a slot only while it is on the
// wire. While the retryer backs off from a throttle (or waits for its
// rate limiter's token), the slot serves another write: under a write
// rate limit the limit, not the gate, paces the writes. Writes wait their
// turn in order (Go serves blocked channel senders first come first
// served). Without a bound, dozens of calls wait inside the adaptive
// retryer for its tokens, which it hands out in no order, and some wait
// past their per-call timeout.
type WriteGate struct{ sem chan struct{} }

// NewWriteGate admits n writes in flight at once (at least one).
func NewWriteGate(n int) *WriteGate { return &WriteGate{sem: make(chan struct{}, max(n, 1))} }

// Option installs the gate in an IAM client: iam.NewFromConfig(cfg,
// gate.Option()).
func (g *WriteGate) Option() func(*iam.Options) {
	return func(o *iam.Options) { o.APIOptions = append(o.APIOptions, g.add) }
}

func (g *WriteGate) add(stack *middleware.Stack) error {
	return stack.Finalize.Insert(middleware.FinalizeMiddlewareFunc("PreviewAccessWriteGate", g.handle), "Retry", middleware.After)
}

func (g *WriteGate) handle(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
	if !IsWrite(awsmiddleware.GetOperationName(ctx)) {
		return next.HandleFinalize(ctx, in)
	}
	select {
	case g.sem <- struct{}{}:
	case <-ctx.Done():
		return middleware.FinalizeOutput{}, middleware.Metadata{}, ctx.Err()
	}
	defer func() { <-g.sem }()
	return next.HandleFinalize(ctx, in)
}

// IsWrite reports whether an IAM operation changes something: every
// operation but Get*, List* and the waiters' reads.
func IsWrite(operation string) bool {
	return operation != "" && !strings.HasPrefix(operation, "Get") && !strings.HasPrefix(operation, "List")
}
