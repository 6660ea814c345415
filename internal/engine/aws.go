package engine

import (
	"context"
	"slices"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go/logging"
)

// LoadAWS is the SDK's standard configuration (credential chain,
// AWS_REGION, AWS_ENDPOINT_URL_IAM and friends) with the adaptive
// retryer, which slows down under throttling instead of failing, and
// which also retries IAM's ConcurrentModification.
func LoadAWS(ctx context.Context, region string) (aws.Config, error) {
	return awsconfig.LoadDefaultConfig(ctx,
		awsconfig.WithRegion(region),
		awsconfig.WithRetryer(NewRetryer),
		// A response that never comes is a retryable error for the SDK
		// only when the HTTP client gives up on it first.
		awsconfig.WithHTTPClient(awshttp.NewBuildableClient().WithTimeout(20*time.Second)),
		// The SDK's own warnings (IMDS fallbacks while looking for
		// credentials) would read as the action's; errors still surface.
		awsconfig.WithLogger(logging.Nop{}),
	)
}

// NewRetryer is the retryer every AWS client of the tool uses.
func NewRetryer() aws.Retryer {
	return retry.NewAdaptiveMode(func(o *retry.AdaptiveModeOptions) {
		o.StandardOptions = append(o.StandardOptions, func(so *retry.StandardOptions) {
			so.MaxAttempts = 8
			so.MaxBackoff = 20 * time.Second
			so.Retryables = append(slices.Clone(so.Retryables), retry.RetryableErrorCode{
				Codes: map[string]struct{}{"ConcurrentModification": {}},
			})
		})
	})
}
