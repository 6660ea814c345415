package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/preview-access/preview-access/internal/config"
	"github.com/preview-access/preview-access/internal/testenv"
)

const examplesDir = "../../examples"

func exampleFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(examplesDir, "*.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no workflows in %s", examplesDir)
	}
	return files
}

// lintRepo lays workflows out as actionlint expects a repository: it takes
// the project root to be the nearest directory above a workflow that holds
// both .github/workflows/ and .git (only checked to exist), and resolves
// `uses: ./` to that root's action.yml. A missing action.yml is not an
// error to actionlint (it then checks nothing), so the copy of ours is the
// point: with it, actionlint checks the inputs each step passes and the
// metadata itself (branding, runs.image). workflows maps file names to
// contents.
func lintRepo(t *testing.T, workflows map[string][]byte) (dir string, paths []string) {
	t.Helper()
	dir = t.TempDir()
	wf := filepath.Join(dir, ".github", "workflows")
	for _, d := range []string{filepath.Join(dir, ".git"), wf} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	action, err := os.ReadFile(actionPath)
	if err != nil {
		t.Fatalf("%v (generate it: go test ./cmd/preview-access -run TestActionYAML -update)", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "action.yml"), action, 0o644); err != nil {
		t.Fatal(err)
	}
	// actionlint also checks that runs.image names an existing file.
	dockerfile, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), dockerfile, 0o644); err != nil {
		t.Fatal(err)
	}
	for name, data := range workflows {
		p := filepath.Join(wf, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	slices.Sort(paths)
	return dir, paths
}

// actionlint runs the linter on paths from dir. shellcheck and pyflakes are
// switched off so the result does not depend on what else the machine has
// installed.
func actionlint(t *testing.T, bin, dir string, paths []string) (string, error) {
	t.Helper()
	args := append([]string{"-no-color", "-oneline", "-shellcheck=", "-pyflakes="}, paths...)
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	return strings.ReplaceAll(string(out), dir+string(filepath.Separator), ""), err
}

func TestExamplesActionlint(t *testing.T) {
	t.Parallel()
	lintFiles(t, "examples/", exampleFiles(t))
}

// lintFiles runs actionlint over files, laid out as a repository.
func lintFiles(t *testing.T, what string, files []string) {
	t.Helper()
	bin := testenv.ActionLint(t)
	workflows := map[string][]byte{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		workflows[filepath.Base(f)] = data
	}
	dir, paths := lintRepo(t, workflows)
	out, err := actionlint(t, bin, dir, paths)
	if err != nil || strings.TrimSpace(out) != "" {
		t.Errorf("actionlint on %s (%v):\n%s", what, err, out)
	}
}

// TestActionlintChecksLocalInputs proves the layout above makes actionlint
// read action.yml: a misspelled input of `uses: ./` is reported.
func TestActionlintChecksLocalInputs(t *testing.T) {
	t.Parallel()
	bin := testenv.ActionLint(t)
	bad := []byte(`on: pull_request_target
permissions: {}
jobs:
  access:
    runs-on: ubuntu-latest
    steps:
      - uses: ./
        with:
          permission-boundary: arn:aws:iam::123456789012:policy/preview-boundary
`)
	dir, paths := lintRepo(t, map[string][]byte{"bad.yml": bad})
	out, err := actionlint(t, bin, dir, paths)
	if err == nil || !strings.Contains(out, `"permission-boundary" is not defined`) {
		t.Errorf("actionlint on a workflow with input permission-boundary: got error %v and output\n%s\nwant it to report the input as not defined in action.yml", err, out)
	}
}

// workflow is the part of a workflow file the Go-side checks read.
type workflow struct {
	On   yaml.Node `yaml:"on"`
	Jobs map[string]struct {
		Environment yaml.Node `yaml:"environment"`
		Steps       []struct {
			ID   string            `yaml:"id"`
			Uses string            `yaml:"uses"`
			With map[string]string `yaml:"with"`
		} `yaml:"steps"`
	} `yaml:"jobs"`
}

func (w workflow) triggers() []string {
	switch w.On.Kind {
	case yaml.ScalarNode:
		return []string{w.On.Value}
	case yaml.SequenceNode:
		var s []string
		for _, n := range w.On.Content {
			s = append(s, n.Value)
		}
		return s
	case yaml.MappingNode:
		var s []string
		for i := 0; i < len(w.On.Content); i += 2 {
			s = append(s, w.On.Content[i].Value)
		}
		return s
	}
	return nil
}

// deployExpr turns a name template into the GitHub expression a
// pull_request workflow writes for it.
var deployExpr = strings.NewReplacer(
	"{owner}/{repo}", "${{ github.repository }}",
	"{owner}", "${{ github.repository_owner }}",
	"{repo}", "${{ github.event.repository.name }}",
	"{number}", "${{ github.event.number }}",
)

// TestExamples checks, without actionlint, what actionlint cannot: every
// `uses: ./` step passes only inputs config.Inputs has; a provisioner step
// runs on pull_request_target with a permissions boundary and never next
// to a checkout; a pull_request workflow uses the action only in mode
// await, and every deploy job assumes the role ARN an earlier await step
// of the same job output (so a long name's hash needs no hand-written
// expression) and names exactly the environment the defaults give.
func TestExamples(t *testing.T) {
	t.Parallel()
	known := map[string]bool{}
	for _, in := range config.Inputs {
		known[in.Name] = true
	}
	wantEnv := deployExpr.Replace(config.Default("environment-template"))

	var provisioners, deploys int
	for _, f := range exampleFiles(t) {
		name := filepath.Base(f)
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var w workflow
		if err := yaml.Unmarshal(data, &w); err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		triggers := w.triggers()
		trusted := slices.Contains(triggers, "pull_request_target")
		if trusted && slices.Contains(triggers, "pull_request") {
			t.Errorf("%s: both pull_request_target and pull_request; the provisioner and the deploy are separate workflows", name)
		}
		for jobName, job := range w.Jobs {
			awaited := map[string]bool{} // ids of the job's await steps so far
			for i, st := range job.Steps {
				where := name + ": jobs." + jobName + ".steps[" + strconv.Itoa(i) + "]"
				if trusted && strings.HasPrefix(st.Uses, "actions/checkout@") {
					t.Errorf("%s: a pull_request_target workflow checks out code; the provisioner must never run the PR's code", where)
				}
				if st.Uses == "./" {
					for k := range st.With {
						if !known[k] {
							t.Errorf("%s: input %q is not in config.Inputs", where, k)
						}
					}
					switch {
					case st.With["mode"] == config.ModeAwait:
						if trusted {
							t.Errorf("%s: mode await belongs in the pull_request deploy job, not the provisioner", where)
						}
						if st.ID == "" {
							t.Errorf("%s: the await step has no id: the deploy step cannot read its role-arn", where)
						}
						if st.With["account-id"] == "" {
							t.Errorf("%s: mode await without account-id", where)
						}
						awaited[st.ID] = true
					case !trusted:
						t.Errorf("%s: the action runs outside pull_request_target in mode %q; only mode await may", where, st.With["mode"])
					default:
						provisioners++
						if st.With["permissions-boundary"] == "" {
							t.Errorf("%s: no permissions-boundary (required unless allow-missing-boundary)", where)
						}
					}
				}
				if arn, ok := st.With["role-to-assume"]; ok && slices.Contains(triggers, "pull_request") {
					deploys++
					id, found := strings.CutPrefix(arn, "${{ steps.")
					id, found2 := strings.CutSuffix(id, ".outputs.role-arn }}")
					if !found || !found2 || !awaited[id] {
						t.Errorf("%s: role-to-assume %s; want ${{ steps.ID.outputs.role-arn }} of an earlier mode await step of this job, so the job waits for the role", where, arn)
					}
					var env struct {
						Name string `yaml:"name"`
					}
					switch job.Environment.Kind {
					case yaml.ScalarNode:
						env.Name = job.Environment.Value
					case yaml.MappingNode:
						if err := job.Environment.Decode(&env); err != nil {
							t.Fatal(err)
						}
					}
					if env.Name != "" && env.Name != wantEnv {
						t.Errorf("%s: environment %q; want %q (the environment-template default)", name, env.Name, wantEnv)
					}
				}
			}
		}
	}
	if provisioners == 0 || deploys == 0 {
		t.Errorf("examples have %d provisioner steps and %d deploy jobs; want both", provisioners, deploys)
	}
}

// TestWorkflowsActionlint: the repository's own workflows (the release)
// pass actionlint.
func TestWorkflowsActionlint(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("../../.github/workflows/*.yml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no workflows in .github/workflows (%v)", err)
	}
	lintFiles(t, ".github/workflows", files)
}

// TestReleasePinsTheImage: the release workflow rewrites action.yml's one
// `  image: Dockerfile` line to the published image: that line must be
// there, once, and the workflow must say so (its grep -qx fails the
// release otherwise).
func TestReleasePinsTheImage(t *testing.T) {
	t.Parallel()
	action, err := os.ReadFile(actionPath)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count("\n"+string(action)+"\n", "\n  image: Dockerfile\n"); n != 1 {
		t.Errorf("action.yml has %d lines '  image: Dockerfile'; the release rewrites exactly one", n)
	}
	release, err := os.ReadFile("../../.github/workflows/release.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`grep -qx "  image: Dockerfile" action.yml`, "platforms: linux/amd64,linux/arm64", "cosign sign --yes", "sbom: true", "provenance: mode=max", `git tag -f "$major"`} {
		if !strings.Contains(string(release), want) {
			t.Errorf("release.yml lacks %q", want)
		}
	}
	for _, l := range strings.Split(string(release), "\n") {
		if i := strings.Index(l, "uses: "); i >= 0 && !regexp.MustCompile(`uses: [\w.-]+/[\w.-]+@[0-9a-f]{40} # v\d`).MatchString(l[i:]) {
			t.Errorf("release.yml: %q is not pinned to a commit with its version named", strings.TrimSpace(l))
		}
	}
}
