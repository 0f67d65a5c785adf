package terraform

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	tagging "github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi"
	taggingtypes "github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi/types"

	tfjson "github.com/hashicorp/terraform-json"

	"github.com/stack-tools/stack/stack"
)

// Identity: every module gets the stack and step that own its resources when
// it declares the input IdentityVar. modules/aws turn it into provider
// default_tags with the keys below, which is how orphans are found.
const (
	IdentityVar     = "stack_identity"
	IdentityTagName = "stack"      // the stack's name
	IdentityTagStep = "stack-step" // the step's name
)

var identityVarRE = regexp.MustCompile(`(?m)^\s*variable\s+"` + IdentityVar + `"`)

// addIdentity sets the identity input for a module in dir that declares it,
// unless the definition sets it itself.
func addIdentity(dir string, run *stack.StepRun, vars map[string]any) {
	if _, set := run.Vars[IdentityVar]; set {
		return
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.tf"))
	for _, f := range files {
		if b, err := os.ReadFile(f); err == nil && identityVarRE.Match(b) {
			vars[IdentityVar] = map[string]string{"stack": run.Stack, "step": run.Step}
			return
		}
	}
}

var awsProviderRE = regexp.MustCompile(`(?m)^\s*(provider\s+"aws"|resource\s+"aws_|data\s+"aws_)`)

// usesAWS reports whether any module makes AWS resources.
func usesAWS(modules []string) bool {
	for _, dir := range modules {
		files, _ := filepath.Glob(filepath.Join(dir, "*.tf"))
		for _, f := range files {
			if b, err := os.ReadFile(f); err == nil && awsProviderRE.Match(b) {
				return true
			}
		}
	}
	return false
}

// FindOrphans lists AWS resources tagged with the stack's name whose ARN no
// state knows, through the Resource Groups Tagging API (credentials, region
// and endpoint from the standard AWS chain). Stacks without AWS modules are
// not looked up.
func (k *Kind) FindOrphans(ctx context.Context, stackName string, modules []string, known map[string]bool) ([]stack.Orphan, error) {
	if !usesAWS(modules) {
		return nil, nil
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("loading AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	return findTagged(ctx, tagging.NewFromConfig(cfg), stackName, known)
}

func findTagged(ctx context.Context, api tagging.GetResourcesAPIClient, stackName string, known map[string]bool) ([]stack.Orphan, error) {
	var out []stack.Orphan
	pages := tagging.NewGetResourcesPaginator(api, &tagging.GetResourcesInput{
		TagFilters: []taggingtypes.TagFilter{{Key: aws.String(IdentityTagName), Values: []string{stackName}}},
	})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("listing AWS resources tagged %s=%s (Resource Groups Tagging API): %w", IdentityTagName, stackName, err)
		}
		for _, m := range page.ResourceTagMappingList {
			arn := aws.ToString(m.ResourceARN)
			if arn == "" || known[arn] {
				continue
			}
			o := stack.Orphan{ID: arn}
			for _, t := range m.Tags {
				if aws.ToString(t.Key) == IdentityTagStep {
					o.Step = aws.ToString(t.Value)
				}
			}
			out = append(out, o)
		}
	}
	return out, nil
}

// StateIDs lists the ARNs (or, without one, the ids) of the resources in a
// step's state.
func (k *Kind) StateIDs(ctx context.Context, run *stack.StepRun) ([]string, error) {
	s, err := k.prepare(ctx, run)
	if err != nil {
		return nil, err
	}
	if ok, err := s.selectWorkspace(ctx, false); err != nil || !ok {
		return nil, err
	}
	st, err := s.tf.Show(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the state: %w", err)
	}
	var ids []string
	if st.Values == nil || st.Values.RootModule == nil {
		return nil, nil
	}
	mods := []*tfjsonModule{{st.Values.RootModule.Resources, st.Values.RootModule.ChildModules}}
	for len(mods) > 0 {
		m := mods[0]
		mods = mods[1:]
		for _, r := range m.resources {
			for _, attr := range []string{"arn", "id"} {
				if v, ok := r.AttributeValues[attr].(string); ok && v != "" {
					ids = append(ids, v)
					break
				}
			}
		}
		for _, c := range m.children {
			mods = append(mods, &tfjsonModule{c.Resources, c.ChildModules})
		}
	}
	return ids, nil
}

type tfjsonModule struct {
	resources []*tfjson.StateResource
	children  []*tfjson.StateModule
}
