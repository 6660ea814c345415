package fakegithub

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Repo seeds a repository.
type Repo struct {
	Owner         string
	Name          string
	ID            int64  // 0: derived from the full name
	OwnerID       int64  // 0: derived from the owner
	OwnerType     string // "Organization" (default) or "User"
	DefaultBranch string // "" means "main"
	Private       bool
}

// PullRequest seeds a pull request.
type PullRequest struct {
	Number     int
	Title      string
	Body       string
	State      string // "open" (default) or "closed"
	Draft      bool
	Merged     bool
	Author     string // login; "" means "octocat"
	AuthorType string // "User" (default) or "Bot"
	HeadRef    string
	HeadSHA    string // "" derives one from the head ref
	// HeadRepo is the head repository's "owner/name" for a fork PR; ""
	// means the base repository.
	HeadRepo           string
	BaseRef            string // "" means the default branch
	BaseSHA            string
	RequestedReviewers []string
	RequestedTeams     []string // team slugs
	Assignees          []string
	Labels             []string
	CreatedAt          time.Time // zero: a fixed time
	UpdatedAt          time.Time
}

// Comment is an issue comment as the fake holds it.
type Comment struct {
	ID        int64
	Issue     int
	Body      string
	Author    string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Deployment is a deployment as the fake holds it, with its statuses
// oldest first.
type Deployment struct {
	ID                    int64
	SHA                   string
	Ref                   string
	Task                  string
	Environment           string
	Description           string
	Payload               any
	TransientEnvironment  bool
	ProductionEnvironment bool
	Creator               string
	CreatedAt             time.Time
	Statuses              []DeploymentStatus
}

// DeploymentStatus is one status of a deployment.
type DeploymentStatus struct {
	ID             int64
	State          string
	Description    string
	EnvironmentURL string
	LogURL         string
	Environment    string
	Creator        string
	CreatedAt      time.Time
}

// Environment is an environment as the fake holds it.
type Environment struct {
	ID   int64
	Name string
	// BranchPolicy is the deployment_branch_policy; nil means any branch.
	BranchPolicy      *BranchPolicySetting
	Policies          []BranchPolicy
	WaitTimer         int
	Reviewers         []Reviewer // required reviewers
	CanAdminsBypass   bool
	PreventSelfReview bool
	CreatedAt         time.Time
	UpdatedAt         time.Time
}

// Reviewer is one of an environment's required reviewers.
type Reviewer struct {
	Type string // "User" or "Team"
	ID   int64
}

// BranchPolicySetting is an environment's deployment_branch_policy.
type BranchPolicySetting struct {
	ProtectedBranches    bool
	CustomBranchPolicies bool
}

// BranchPolicy is one deployment branch or tag policy.
type BranchPolicy struct {
	ID   int64
	Name string
	Type string // "branch" or "tag"
}

type user struct {
	Login string
	ID    int64
	Type  string
}

type repo struct {
	Repo
	branches    map[string]string            // name → sha
	files       map[string]map[string][]byte // ref → path → content
	pulls       map[int]*PullRequest
	comments    []*Comment
	deployments []*Deployment
	envs        map[string]*Environment // by lower-case name
	envOrder    []string
}

// defaultEpoch starts the fake's clock unless WithEpoch sets another.
var defaultEpoch = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

func (s *Server) id() int64 {
	s.nextID++
	return s.nextID
}

// now is a clock that moves one second per call, so timestamps order
// writes the way GitHub's would.
func (s *Server) now() time.Time {
	return s.epoch.Add(time.Duration(s.id()) * time.Second)
}

// repoLocked returns the repository, creating it with defaults when absent.
func (s *Server) repoLocked(owner, name string) *repo {
	key := strings.ToLower(owner + "/" + name)
	if r, ok := s.repos[key]; ok {
		return r
	}
	r := &repo{
		Repo:     Repo{Owner: owner, Name: name},
		branches: make(map[string]string),
		files:    make(map[string]map[string][]byte),
		pulls:    make(map[int]*PullRequest),
		envs:     make(map[string]*Environment),
	}
	r.fill()
	s.repos[key] = r
	return r
}

func (r *repo) fill() {
	if r.ID == 0 {
		r.ID = idFor(r.Owner + "/" + r.Name)
	}
	if r.OwnerID == 0 {
		r.OwnerID = idFor(r.Owner)
	}
	if r.OwnerType == "" {
		r.OwnerType = "Organization"
	}
	if r.DefaultBranch == "" {
		r.DefaultBranch = "main"
	}
	if _, ok := r.branches[r.DefaultBranch]; !ok {
		r.branches[r.DefaultBranch] = fakeSHA(r.Owner + "/" + r.Name + "@" + r.DefaultBranch)
	}
	// A repository that runs the action has content: at least the
	// workflow that runs it. (GitHub answers 404 for the root of an empty
	// repository only.)
	if r.files[r.DefaultBranch] == nil {
		r.files[r.DefaultBranch] = map[string][]byte{
			"README.md":                            []byte("# " + r.Name + "\n"),
			".github/workflows/preview-access.yml": []byte("on: pull_request_target\n"),
		}
	}
}

// filesAt is what a ref holds: the default branch's files (a branch starts
// from it) with the ref's own on top; ok is false for a ref with no files
// and no branch of that name.
func (r *repo) filesAt(ref string) (map[string][]byte, bool) {
	own, ok := r.files[ref]
	if _, known := r.resolve(ref); !ok && !known {
		return nil, false
	}
	out := make(map[string][]byte, len(r.files[r.DefaultBranch])+len(own))
	for k, v := range r.files[r.DefaultBranch] {
		out[k] = v
	}
	for k, v := range own {
		out[k] = v
	}
	return out, true
}

// lookup finds an existing repository.
func (s *Server) lookup(owner, name string) *repo {
	return s.repos[strings.ToLower(owner+"/"+name)]
}

// AddRepo adds or replaces a repository's metadata.
func (s *Server) AddRepo(r Repo) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rr := s.repoLocked(r.Owner, r.Name)
	branches := rr.branches
	rr.Repo = r
	rr.branches = branches
	rr.fill()
}

// SetBranch points a branch at a commit.
func (s *Server) SetBranch(owner, name, branch, sha string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.repoLocked(owner, name).branches[branch] = sha
}

// SetFile stores a file's content at a ref (a branch name or commit SHA).
func (s *Server) SetFile(owner, name, ref, path, content string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repoLocked(owner, name)
	if r.files[ref] == nil {
		r.files[ref] = make(map[string][]byte)
	}
	r.files[ref][strings.Trim(path, "/")] = []byte(content)
}

// AddPullRequest adds or replaces a pull request. A same-repository head
// branch also becomes a branch of the repository.
func (s *Server) AddPullRequest(owner, name string, pr PullRequest) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repoLocked(owner, name)
	if pr.State == "" {
		pr.State = "open"
	}
	if pr.Author == "" {
		pr.Author = "octocat"
	}
	if pr.AuthorType == "" {
		pr.AuthorType = "User"
		if strings.HasSuffix(pr.Author, "[bot]") {
			pr.AuthorType = "Bot"
		}
	}
	if pr.BaseRef == "" {
		pr.BaseRef = r.DefaultBranch
	}
	if pr.BaseSHA == "" {
		pr.BaseSHA = r.branches[pr.BaseRef]
		if pr.BaseSHA == "" {
			pr.BaseSHA = fakeSHA(owner + "/" + name + "@" + pr.BaseRef)
		}
	}
	if pr.HeadRef == "" {
		pr.HeadRef = fmt.Sprintf("pr-%d", pr.Number)
	}
	if pr.HeadSHA == "" {
		pr.HeadSHA = fakeSHA(fmt.Sprintf("%s/%s#%d@%s", owner, name, pr.Number, pr.HeadRef))
	}
	if pr.CreatedAt.IsZero() {
		pr.CreatedAt = s.epoch.Add(time.Duration(pr.Number) * time.Minute)
	}
	if pr.UpdatedAt.IsZero() {
		pr.UpdatedAt = pr.CreatedAt
	}
	if pr.HeadRepo == "" || strings.EqualFold(pr.HeadRepo, owner+"/"+name) {
		pr.HeadRepo = ""
		r.branches[pr.HeadRef] = pr.HeadSHA
	}
	cp := pr
	cp.RequestedReviewers = slices.Clone(pr.RequestedReviewers)
	cp.RequestedTeams = slices.Clone(pr.RequestedTeams)
	cp.Assignees = slices.Clone(pr.Assignees)
	cp.Labels = slices.Clone(pr.Labels)
	r.pulls[pr.Number] = &cp
}

// PushPullRequest moves a pull request's head to sha (a synchronize).
func (s *Server) PushPullRequest(owner, name string, number int, sha string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repoLocked(owner, name)
	pr := r.pulls[number]
	if pr == nil {
		s.t.Fatalf("fakegithub: PushPullRequest: no pull request %s/%s#%d", owner, name, number)
		return
	}
	pr.HeadSHA = sha
	pr.UpdatedAt = s.now()
	if pr.HeadRepo == "" {
		r.branches[pr.HeadRef] = sha
	}
}

// ClosePullRequest closes a pull request, merged or not.
func (s *Server) ClosePullRequest(owner, name string, number int, merged bool) {
	s.setPRState(owner, name, number, "closed", merged)
}

// ReopenPullRequest reopens a closed, unmerged pull request.
func (s *Server) ReopenPullRequest(owner, name string, number int) {
	s.setPRState(owner, name, number, "open", false)
}

func (s *Server) setPRState(owner, name string, number int, state string, merged bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	pr := s.repoLocked(owner, name).pulls[number]
	if pr == nil {
		s.t.Fatalf("fakegithub: no pull request %s/%s#%d", owner, name, number)
		return
	}
	pr.State, pr.Merged, pr.UpdatedAt = state, merged, s.now()
}

// AddComment seeds a comment by author on issue or pull request number and
// returns its id.
func (s *Server) AddComment(owner, name string, number int, author, body string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.now()
	c := &Comment{ID: s.id(), Issue: number, Body: body, Author: author, CreatedAt: t, UpdatedAt: t}
	r := s.repoLocked(owner, name)
	r.comments = append(r.comments, c)
	return c.ID
}

// Comments returns the comments on issue or pull request number, oldest
// first.
func (s *Server) Comments(owner, name string, number int) []Comment {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Comment
	if r := s.lookup(owner, name); r != nil {
		for _, c := range r.comments {
			if c.Issue == number {
				out = append(out, *c)
			}
		}
	}
	return out
}

// Deployments returns the repository's deployments, oldest first, with
// their statuses.
func (s *Server) Deployments(owner, name string) []Deployment {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Deployment
	if r := s.lookup(owner, name); r != nil {
		for _, d := range r.deployments {
			cp := *d
			cp.Statuses = slices.Clone(d.Statuses)
			out = append(out, cp)
		}
	}
	return out
}

// Environment returns an environment and whether it exists.
func (s *Server) Environment(owner, name, env string) (Environment, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.lookup(owner, name)
	if r == nil {
		return Environment{}, false
	}
	e, ok := r.envs[strings.ToLower(env)]
	if !ok {
		return Environment{}, false
	}
	cp := *e
	cp.Policies = slices.Clone(e.Policies)
	cp.Reviewers = slices.Clone(e.Reviewers)
	if e.BranchPolicy != nil {
		bp := *e.BranchPolicy
		cp.BranchPolicy = &bp
	}
	return cp, true
}

// AddEnvironment seeds an environment with a branch policy setting (nil:
// any branch) and policies, e.g. one left behind by hand.
func (s *Server) AddEnvironment(owner, name, env string, setting *BranchPolicySetting, policies ...BranchPolicy) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repoLocked(owner, name)
	t := s.now()
	e := &Environment{ID: s.id(), Name: env, CanAdminsBypass: true, CreatedAt: t, UpdatedAt: t}
	if setting != nil {
		cp := *setting
		e.BranchPolicy = &cp
	}
	for _, p := range policies {
		if p.Type == "" {
			p.Type = "branch"
		}
		p.ID = s.id()
		e.Policies = append(e.Policies, p)
	}
	key := strings.ToLower(env)
	if _, ok := r.envs[key]; !ok {
		r.envOrder = append(r.envOrder, key)
	}
	r.envs[key] = e
}

// AddDeployment seeds a deployment (its statuses oldest first) and returns
// its id; ids, creators and times are filled in.
func (s *Server) AddDeployment(owner, name string, d Deployment) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repoLocked(owner, name)
	d.ID, d.CreatedAt = s.id(), s.now()
	if d.Creator == "" {
		d.Creator = s.actor.Login
	}
	if d.Task == "" {
		d.Task = "deploy"
	}
	if d.SHA == "" {
		d.SHA = r.branches[r.DefaultBranch]
	}
	if d.Ref == "" {
		d.Ref = d.SHA
	}
	for i := range d.Statuses {
		st := &d.Statuses[i]
		st.ID, st.CreatedAt = s.id(), s.now()
		if st.Creator == "" {
			st.Creator = s.actor.Login
		}
		if st.Environment == "" {
			st.Environment = d.Environment
		}
	}
	cp := d
	r.deployments = append(r.deployments, &cp)
	return d.ID
}

// ProtectEnvironment gives an environment (created when absent) the
// protections a person sets by hand: a wait timer and required reviewers
// (user ids).
func (s *Server) ProtectEnvironment(owner, name, env string, waitTimer int, reviewers ...int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repoLocked(owner, name)
	key := strings.ToLower(env)
	e := r.envs[key]
	if e == nil {
		t := s.now()
		e = &Environment{ID: s.id(), Name: env, CanAdminsBypass: true, CreatedAt: t, UpdatedAt: t}
		r.envs[key] = e
		r.envOrder = append(r.envOrder, key)
	}
	e.WaitTimer = waitTimer
	e.Reviewers = nil
	for _, id := range reviewers {
		e.Reviewers = append(e.Reviewers, Reviewer{Type: "User", ID: id})
	}
}

// fakeSHA derives a 40-hex commit id from a seed.
func fakeSHA(seed string) string {
	h := sha1.Sum([]byte(seed))
	return hex.EncodeToString(h[:])
}

// resolve turns a deployment ref (branch, or commit SHA the repository
// knows) into a commit SHA.
func (r *repo) resolve(ref string) (string, bool) {
	if sha, ok := r.branches[strings.TrimPrefix(ref, "refs/heads/")]; ok {
		return sha, true
	}
	if isSHA(ref) {
		for _, sha := range r.branches {
			if sha == ref {
				return ref, true
			}
		}
		for _, pr := range r.pulls {
			if pr.HeadSHA == ref || pr.BaseSHA == ref {
				return ref, true
			}
		}
		for _, d := range r.deployments {
			if d.SHA == ref {
				return ref, true
			}
		}
	}
	return "", false
}

func isSHA(s string) bool {
	if len(s) != 40 {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
