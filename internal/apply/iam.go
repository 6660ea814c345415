package apply

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/preview-access/preview-access/internal/observe"
	"github.com/preview-access/preview-access/internal/planner"
)

// iam makes one IAM call. Deletions of what is gone already succeed.
func (a *Applier) iam(ctx context.Context, op any) error {
	api := a.IAM
	switch op := op.(type) {
	case planner.CreateRole:
		in := &iam.CreateRoleInput{
			RoleName: aws.String(op.Name), Path: aws.String(op.Path), Description: aws.String(op.Description),
			AssumeRolePolicyDocument: aws.String(op.Trust), MaxSessionDuration: aws.Int32(op.MaxSession), Tags: tagList(op.Tags),
		}
		if op.Boundary != "" {
			in.PermissionsBoundary = aws.String(op.Boundary)
		}
		_, err := api.CreateRole(ctx, in)
		if IsAlreadyExists(err) {
			return fmt.Errorf("iam CreateRole %s: %w: %w", op.Name, ErrRaced, err)
		}
		return wrap("CreateRole", err)
	case planner.UpdateRole:
		_, err := api.UpdateRole(ctx, &iam.UpdateRoleInput{RoleName: aws.String(op.Name), MaxSessionDuration: aws.Int32(op.MaxSession), Description: aws.String(op.Description)})
		return wrap("UpdateRole", err)
	case planner.UpdateTrust:
		_, err := api.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: aws.String(op.Name), PolicyDocument: aws.String(op.Document)})
		return wrap("UpdateAssumeRolePolicy", err)
	case planner.PutBoundary:
		_, err := api.PutRolePermissionsBoundary(ctx, &iam.PutRolePermissionsBoundaryInput{RoleName: aws.String(op.Name), PermissionsBoundary: aws.String(op.ARN)})
		return wrap("PutRolePermissionsBoundary", err)
	case planner.TagRole:
		_, err := api.TagRole(ctx, &iam.TagRoleInput{RoleName: aws.String(op.Name), Tags: tagList(op.Tags)})
		return wrap("TagRole", err)
	case planner.UntagRole:
		_, err := api.UntagRole(ctx, &iam.UntagRoleInput{RoleName: aws.String(op.Name), TagKeys: op.Keys})
		return wrap("UntagRole", err)
	case planner.PutPolicy:
		_, err := api.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String(op.Name), PolicyName: aws.String(planner.PolicyName), PolicyDocument: aws.String(op.Document)})
		return wrap("PutRolePolicy", err)
	case planner.DeletePolicy:
		_, err := api.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: aws.String(op.Name), PolicyName: aws.String(planner.PolicyName)})
		return ignoreNotFound(wrap("DeleteRolePolicy", err))
	case planner.AttachPolicy:
		_, err := api.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String(op.Name), PolicyArn: aws.String(op.ARN)})
		return wrap("AttachRolePolicy", err)
	case planner.DetachPolicy:
		_, err := api.DetachRolePolicy(ctx, &iam.DetachRolePolicyInput{RoleName: aws.String(op.Name), PolicyArn: aws.String(op.ARN)})
		return ignoreNotFound(wrap("DetachRolePolicy", err))
	case planner.DeleteRole:
		_, err := api.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: aws.String(op.Name)})
		var conflict *types.DeleteConflictException
		if errors.As(err, &conflict) {
			return fmt.Errorf("iam DeleteRole %s: something was attached to the role meanwhile; run down again: %w", op.Name, err)
		}
		return ignoreNotFound(wrap("DeleteRole", err))
	}
	return fmt.Errorf("apply: unknown operation %T", op)
}

func tagList(m map[string]string) []types.Tag {
	out := make([]types.Tag, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, types.Tag{Key: aws.String(k), Value: aws.String(m[k])})
	}
	return out
}

func ignoreNotFound(err error) error {
	if observe.IsNotFound(err) {
		return nil
	}
	return err
}

// wrap names the failed call. AWS errors keep their type for errors.As.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("iam %s: %w", op, err)
}
