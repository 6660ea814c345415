package hygiene

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// No Docker daemon is needed: the Dockerfile is checked by reading it, and
// its build command is run with the local go.

const (
	dockerfilePath   = "../../Dockerfile"
	dockerignorePath = "../../.dockerignore"
	moduleRoot       = "../.."
)

type instruction struct {
	line int    // first line of the instruction in the Dockerfile
	cmd  string // upper-cased: FROM, RUN, COPY, …
	args string
}

type stage struct {
	from   instruction
	image  string
	name   string
	instrs []instruction // after FROM
}

// parseDockerfile splits a Dockerfile into instructions (joining lines
// continued with a backslash, dropping comments and blank lines) and
// stages.
func parseDockerfile(src string) ([]stage, error) {
	var instrs []instruction
	var cur strings.Builder
	start := 0
	for i, raw := range strings.Split(src, "\n") {
		line := strings.TrimSpace(raw)
		if strings.HasPrefix(line, "#") || (line == "" && cur.Len() == 0) {
			continue
		}
		if cur.Len() == 0 {
			start = i + 1
		}
		if cont, ok := strings.CutSuffix(line, `\`); ok {
			cur.WriteString(cont + " ")
			continue
		}
		cur.WriteString(line)
		text := strings.TrimSpace(cur.String())
		cur.Reset()
		if text == "" {
			continue
		}
		cmd, args, _ := strings.Cut(text, " ")
		instrs = append(instrs, instruction{line: start, cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args)})
	}
	if cur.Len() > 0 {
		return nil, errors.New("the last instruction ends with a line continuation")
	}
	var stages []stage
	for _, in := range instrs {
		if in.cmd == "FROM" {
			f := strings.Fields(in.args)
			f = slices.DeleteFunc(f, func(s string) bool { return strings.HasPrefix(s, "--") })
			if len(f) == 0 {
				return nil, fmt.Errorf("line %d: FROM without an image", in.line)
			}
			s := stage{from: in, image: f[0]}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				s.name = f[2]
			}
			stages = append(stages, s)
			continue
		}
		if len(stages) == 0 {
			if in.cmd != "ARG" {
				return nil, fmt.Errorf("line %d: %s before the first FROM", in.line, in.cmd)
			}
			continue
		}
		stages[len(stages)-1].instrs = append(stages[len(stages)-1].instrs, in)
	}
	return stages, nil
}

var digestRE = regexp.MustCompile(`@sha256:[0-9a-f]{64}$`)

// checkImageRef reports why ref is not pinned: it must name an explicit tag
// other than latest, or carry a sha256 digest. scratch is no image at all.
func checkImageRef(ref string) error {
	if ref == "scratch" {
		return nil
	}
	if strings.Contains(ref, "$") {
		return fmt.Errorf("%s: an image from a build argument cannot be checked; write it out", ref)
	}
	if digestRE.MatchString(ref) {
		return nil
	}
	if strings.Contains(ref, "@") {
		return fmt.Errorf("%s: malformed digest (want @sha256: and 64 hex digits)", ref)
	}
	name := ref[strings.LastIndex(ref, "/")+1:]
	_, tag, ok := strings.Cut(name, ":")
	switch {
	case !ok || tag == "":
		return fmt.Errorf("%s: no tag; pin an exact version tag (or a digest)", ref)
	case tag == "latest":
		return fmt.Errorf("%s: latest moves; pin an exact version tag (or a digest)", ref)
	}
	return nil
}

func TestCheckImageRef(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		ref string
		ok  bool
	}{
		{"golang:1.26.8-bookworm", true},
		{"scratch", true},
		{"gcr.io/distroless/static-debian12:latest@sha256:" + strings.Repeat("ab", 32), true},
		{"gcr.io/distroless/static-debian12@sha256:" + strings.Repeat("0", 64), true},
		{"gcr.io/distroless/static-debian12:nonroot", true},
		{"gcr.io/distroless/static-debian12", false},
		{"gcr.io/distroless/static-debian12:latest", false},
		{"localhost:5000/golang", false},
		{"golang:1.26@sha256:abc", false},
		{"${BASE}", false},
	} {
		if err := checkImageRef(tc.ref); (err == nil) != tc.ok {
			t.Errorf("checkImageRef(%q) = %v; want ok %v", tc.ref, err, tc.ok)
		}
	}
}

// shellWords splits a POSIX shell command line into words, honouring single
// and double quotes and backslashes. It does not expand anything.
func shellWords(s string) ([]string, error) {
	var words []string
	var w strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, errors.New("unterminated '")
			}
			w.WriteString(s[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case c == '"':
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("\"\\$`", s[i+1]) >= 0 {
					i++
				}
				w.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, errors.New(`unterminated "`)
			}
			inWord = true
		case c == '\\' && i+1 < len(s):
			i++
			w.WriteByte(s[i])
			inWord = true
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, w.String())
				w.Reset()
				inWord = false
			}
		default:
			w.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, w.String())
	}
	return words, nil
}

// goBuild is the Dockerfile's `go build` command: the environment
// assignments before it and the arguments after `go build`.
type goBuild struct {
	instr instruction
	env   []string
	args  []string
}

func findGoBuild(st stage) (goBuild, error) {
	for _, in := range st.instrs {
		if in.cmd != "RUN" || !strings.Contains(in.args, "go build") {
			continue
		}
		words, err := shellWords(in.args)
		if err != nil {
			return goBuild{}, fmt.Errorf("line %d: %v", in.line, err)
		}
		// The command of the && / ; chain that runs go build.
		var cmd []string
		for _, w := range append(words, "&&") {
			if w == "&&" || w == ";" || w == "||" {
				if i := slices.Index(cmd, "go"); i >= 0 && i+1 < len(cmd) && cmd[i+1] == "build" {
					return goBuild{instr: in, env: cmd[:i], args: cmd[i+2:]}, nil
				}
				cmd = nil
				continue
			}
			cmd = append(cmd, w)
		}
	}
	return goBuild{}, errors.New("no RUN with go build")
}

// flagValue is the value of -name in args (as "-name value" or
// "-name=value"); ok is false when the flag is absent.
func flagValue(args []string, name string) (string, bool) {
	for i, a := range args {
		for _, prefix := range []string{"-" + name, "--" + name} {
			if a == prefix && i+1 < len(args) {
				return args[i+1], true
			}
			if v, ok := strings.CutPrefix(a, prefix+"="); ok {
				return v, true
			}
		}
	}
	return "", false
}

func readDockerfile(t *testing.T) []stage {
	t.Helper()
	data, err := os.ReadFile(dockerfilePath)
	if err != nil {
		t.Fatal(err)
	}
	stages, err := parseDockerfile(string(data))
	if err != nil {
		t.Fatalf("Dockerfile: %v", err)
	}
	if len(stages) < 2 {
		t.Fatalf("Dockerfile has %d stages; want a build stage and a final stage", len(stages))
	}
	return stages
}

func TestDockerfile(t *testing.T) {
	t.Parallel()
	stages := readDockerfile(t)
	names := map[string]bool{}
	for _, st := range stages {
		if !names[st.image] {
			if err := checkImageRef(st.image); err != nil {
				t.Errorf("line %d: FROM %v", st.from.line, err)
			}
		}
		if st.name != "" {
			names[st.name] = true
		}
	}

	final := stages[len(stages)-1]
	distroless := strings.HasPrefix(final.image, "gcr.io/distroless/static")
	if final.image != "scratch" && !distroless {
		t.Errorf("final stage FROM %s; want scratch or gcr.io/distroless/static-*", final.image)
	}
	if strings.Contains(final.image, "nonroot") || strings.Contains(final.image, "debug") {
		t.Errorf("final stage FROM %s; want the root, shell-less variant (Docker actions run as root)", final.image)
	}
	var entrypoints int
	hasCA := distroless // distroless static ships /etc/ssl/certs
	for _, in := range final.instrs {
		switch in.cmd {
		case "USER":
			t.Errorf("line %d: USER in the final stage; Docker actions must run as root", in.line)
		case "ENTRYPOINT":
			entrypoints++
			var argv []string
			if err := json.Unmarshal([]byte(in.args), &argv); err != nil || len(argv) == 0 {
				t.Errorf("line %d: ENTRYPOINT %s; want exec form, a JSON array", in.line, in.args)
			}
		case "COPY":
			f := strings.Fields(in.args)
			if len(f) >= 2 && strings.HasSuffix(f[len(f)-2], "ca-certificates.crt") && strings.HasPrefix(f[len(f)-1], "/etc/ssl/certs/") {
				hasCA = true
			}
		}
	}
	if entrypoints != 1 {
		t.Errorf("final stage has %d ENTRYPOINT instructions; want 1", entrypoints)
	}
	if !hasCA {
		t.Error("final stage gets no CA certificates: COPY a ca-certificates.crt into /etc/ssl/certs/")
	}

	// The build stage: modules in their own layer before the source.
	var build *stage
	var gb goBuild
	for i := range stages[:len(stages)-1] {
		if b, err := findGoBuild(stages[i]); err == nil {
			build, gb = &stages[i], b
			break
		}
	}
	if build == nil {
		t.Fatal("no build stage: no RUN with go build before the final stage")
	}
	if !slices.Contains(gb.env, "CGO_ENABLED=0") {
		t.Errorf("line %d: go build without CGO_ENABLED=0 (a static binary for scratch/distroless static)", gb.instr.line)
	}
	if !slices.Contains(gb.args, "-trimpath") {
		t.Errorf("line %d: go build without -trimpath", gb.instr.line)
	}
	ldflags, ok := flagValue(gb.args, "ldflags")
	lf := strings.Fields(ldflags)
	if !ok || !slices.Contains(lf, "-s") || !slices.Contains(lf, "-w") || !strings.Contains(ldflags, "-X main.version=") {
		t.Errorf("line %d: go build -ldflags %q; want -s -w and -X main.version=…", gb.instr.line, ldflags)
	}

	modCopy, download, srcCopy := -1, -1, -1
	for i, in := range build.instrs {
		switch {
		case in.cmd == "COPY" && srcCopy < 0:
			f := strings.Fields(in.args)
			src := f[:max(len(f)-1, 0)]
			if slices.Contains(src, ".") || slices.Contains(src, "./") {
				srcCopy = i
			} else if slices.Contains(src, "go.mod") && slices.Contains(src, "go.sum") {
				modCopy = i
			}
		case in.cmd == "RUN" && strings.Contains(in.args, "go mod download") && download < 0:
			download = i
		}
	}
	if modCopy < 0 || download < modCopy || srcCopy < download {
		t.Errorf("build stage: want COPY go.mod go.sum, then RUN go mod download, then COPY of the source (positions %d, %d, %d)", modCopy, download, srcCopy)
	}
}

// TestDockerfileVersion runs the Dockerfile's own go build command with
// VERSION=v9.9.9 and checks that the binary reports that version.
func TestDockerfileVersion(t *testing.T) {
	t.Parallel()
	stages := readDockerfile(t)
	var gb goBuild
	var err error
	for _, st := range stages {
		if gb, err = findGoBuild(st); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "preview-access")
	var args []string
	for i := 0; i < len(gb.args); i++ {
		a := strings.NewReplacer("${VERSION}", "v9.9.9", "$VERSION", "v9.9.9").Replace(gb.args[i])
		if a == "-o" && i+1 < len(gb.args) {
			args = append(args, "-o", bin)
			i++
			continue
		}
		args = append(args, a)
	}
	if !slices.Contains(args, bin) {
		t.Fatalf("go build %q: no -o to replace", gb.args)
	}
	cmd := exec.Command("go", append([]string{"build"}, args...)...)
	cmd.Dir = moduleRoot // the Dockerfile builds in WORKDIR /src, the module root
	cmd.Env = append(os.Environ(), gb.env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	out, err := exec.Command(bin, "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("preview-access --version: %v\n%s", err, out)
	}
	if got, want := strings.TrimSpace(string(out)), "preview-access v9.9.9"; got != want {
		t.Errorf("preview-access --version printed %q; want %q", got, want)
	}
}

// dockerignore is the subset of .dockerignore semantics this repository
// uses: patterns matched against the path and each of its parent
// directories, `*` within one path element, `**` across elements, `!` to
// re-include, the last matching line winning.
type dockerignore []struct {
	re     *regexp.Regexp
	negate bool
}

func parseDockerignore(src string) dockerignore {
	var d dockerignore
	for line := range strings.Lines(src) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		neg := strings.HasPrefix(line, "!")
		line = path.Clean(strings.TrimPrefix(strings.TrimPrefix(line, "!"), "/"))
		var re strings.Builder
		re.WriteString("^")
		for i := 0; i < len(line); i++ {
			switch {
			case strings.HasPrefix(line[i:], "**/"):
				re.WriteString("(.*/)?")
				i += 2
			case strings.HasPrefix(line[i:], "**"):
				re.WriteString(".*")
				i++
			case line[i] == '*':
				re.WriteString("[^/]*")
			case line[i] == '?':
				re.WriteString("[^/]")
			default:
				re.WriteString(regexp.QuoteMeta(line[i : i+1]))
			}
		}
		re.WriteString("$")
		d = append(d, struct {
			re     *regexp.Regexp
			negate bool
		}{regexp.MustCompile(re.String()), neg})
	}
	return d
}

// excluded reports whether the slash-separated path p (relative to the
// context root) is left out of the build context.
func (d dockerignore) excluded(p string) bool {
	var prefixes []string
	for q := p; q != "." && q != "/"; q = path.Dir(q) {
		prefixes = append(prefixes, q)
	}
	out := false
	for _, r := range d {
		for _, q := range prefixes {
			if r.re.MatchString(q) {
				out = !r.negate
				break
			}
		}
	}
	return out
}

func TestDockerignore(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(dockerignorePath)
	if err != nil {
		t.Fatal(err)
	}
	d := parseDockerignore(string(data))
	for _, p := range []string{".git", ".git/config", "README.md", "examples/deploy.yml", "testdata/events/x.json", "internal/config/inputs_test.go", ".env"} {
		if !d.excluded(p) {
			t.Errorf(".dockerignore lets %s into the build context", p)
		}
	}

	// Every file go build reads for ./cmd/preview-access: the module files,
	// each Go file of the module's packages it imports, and their embedded
	// files (templates/).
	need := []string{"go.mod", "go.sum"}
	out, err := exec.Command("go", "list", "-deps", "-e", "-f",
		`{{if .Module}}{{if .Module.Main}}{{$d := .Dir}}{{range .GoFiles}}{{$d}}/{{.}}
{{end}}{{range .EmbedFiles}}{{$d}}/{{.}}
{{end}}{{end}}{{end}}`, "github.com/preview-access/preview-access/cmd/preview-access").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	root, err := filepath.Abs(moduleRoot)
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(out)) {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		rel, err := filepath.Rel(root, line)
		if err != nil {
			t.Fatal(err)
		}
		need = append(need, filepath.ToSlash(rel))
	}
	if !slices.ContainsFunc(need, func(p string) bool { return strings.HasPrefix(p, "templates/") && !strings.HasSuffix(p, ".go") }) {
		t.Errorf("go list reports no embedded templates/ files; the check below would prove nothing:\n%s", out)
	}
	for _, p := range need {
		if d.excluded(p) {
			t.Errorf(".dockerignore leaves out %s, which go build ./cmd/preview-access needs", p)
		}
	}
}

func TestDockerignoreMatcher(t *testing.T) {
	t.Parallel()
	d := parseDockerignore("*\n!cmd/\n!templates\n**/*_test.go\n**/testdata/\n")
	for p, want := range map[string]bool{
		"go.mod":                       true,
		"cmd/preview-access/main.go":   false,
		"cmd/preview-access/x_test.go": true,
		"templates/gateway/a.rego":     false,
		"templates/testdata/a":         true,
		"README.md":                    true,
	} {
		if got := d.excluded(p); got != want {
			t.Errorf("excluded(%q) = %v; want %v", p, got, want)
		}
	}
}
