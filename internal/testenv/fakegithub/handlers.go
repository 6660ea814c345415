package fakegithub

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

func (s *Server) routes() {
	read := func(p ...string) []string {
		out := make([]string, len(p))
		for i, n := range p {
			out[i] = n + "=read"
		}
		return out
	}
	write := func(p ...string) []string {
		out := make([]string, len(p))
		for i, n := range p {
			out[i] = n + "=write"
		}
		return out
	}
	const rp = "/repos/{owner}/{repo}"
	s.route("GET "+rp+"/pulls", read(PermPullRequests), s.listPulls)
	s.route("GET "+rp+"/pulls/{number}", read(PermPullRequests), s.getPull)
	s.route("GET "+rp+"/contents/{path...}", read(PermContents), s.getContents)

	// /issues/{number}/comments and /issues/comments/{id} overlap as mux
	// patterns; one route per method tells them apart.
	s.route("GET "+rp+"/issues/{a}/{b}", read(PermIssues, PermPullRequests), s.issuesGet)
	s.route("POST "+rp+"/issues/{a}/{b}", write(PermIssues, PermPullRequests), s.issuesPost)
	s.route("PATCH "+rp+"/issues/{a}/{b}", write(PermIssues, PermPullRequests), s.issuesPatch)
	s.route("DELETE "+rp+"/issues/{a}/{b}", write(PermIssues, PermPullRequests), s.issuesDelete)

	s.route("GET "+rp+"/deployments", read(PermDeployments), s.listDeployments)
	s.route("POST "+rp+"/deployments", write(PermDeployments), s.createDeployment)
	s.route("GET "+rp+"/deployments/{id}", read(PermDeployments), s.getDeployment)
	s.route("GET "+rp+"/deployments/{id}/statuses", read(PermDeployments), s.listStatuses)
	s.route("POST "+rp+"/deployments/{id}/statuses", write(PermDeployments), s.createStatus)

	// GraphQL (graphql.go; GitHub Enterprise Server serves it at
	// /api/graphql).
	s.route("POST /graphql", nil, s.graphql)
	s.route("POST /api/graphql", nil, s.graphql)

	const ep = rp + "/environments/{env}"
	s.route("GET "+ep, read(PermActions), s.getEnv)
	s.route("PUT "+ep, write(PermAdministration), s.putEnv)
	s.route("DELETE "+ep, write(PermAdministration), s.deleteEnv)
	s.route("GET "+ep+"/deployment-branch-policies", read(PermActions), s.listPolicies)
	s.route("POST "+ep+"/deployment-branch-policies", write(PermAdministration), s.createPolicy)
	s.route("GET "+ep+"/deployment-branch-policies/{id}", read(PermActions), s.getPolicy)
	s.route("PUT "+ep+"/deployment-branch-policies/{id}", write(PermAdministration), s.updatePolicy)
	s.route("DELETE "+ep+"/deployment-branch-policies/{id}", write(PermAdministration), s.deletePolicy)
}

// maxCommentBody is GitHub's limit on a comment body, in characters.
const maxCommentBody = 65536

// unimplemented fails the test for a request the fake does not serve.
func (s *Server) unimplemented(w http.ResponseWriter, r *http.Request) {
	s.t.Errorf("fakegithub: request to an endpoint the fake does not implement: %s %s", r.Method, originalPath(r))
	writeError(w, http.StatusNotFound, "Not Found", "https://docs.github.com/rest")
}

func notFound(w http.ResponseWriter, doc string) {
	writeError(w, http.StatusNotFound, "Not Found", doc)
}

// repoOf returns the request's repository, or answers 404.
func (s *Server) repoOf(w http.ResponseWriter, r *http.Request) *repo {
	rp := s.lookup(r.PathValue("owner"), r.PathValue("repo"))
	if rp == nil {
		notFound(w, "https://docs.github.com/rest/repos/repos#get-a-repository")
	}
	return rp
}

func decode(w http.ResponseWriter, body []byte, v any, doc string) bool {
	if len(body) == 0 {
		body = []byte("{}")
	}
	if err := json.Unmarshal(body, v); err != nil {
		writeError(w, http.StatusBadRequest, "Problems parsing JSON", doc)
		return false
	}
	return true
}

// ---- JSON shapes ----

func apiBase(r *http.Request) string {
	base := "http://" + r.Host
	if strings.HasPrefix(originalPath(r), "/api/v3/") {
		base += "/api/v3"
	}
	return base
}

const web = "https://github.com"

func nodeID(kind string, id int64) string {
	return base64.RawStdEncoding.EncodeToString([]byte(fmt.Sprintf("0:%s%d", kind, id)))
}

func ts(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func userJSON(base string, u user) obj {
	if u.ID == 0 {
		u.ID = idFor(u.Login)
	}
	if u.Type == "" {
		u.Type = "User"
		if strings.HasSuffix(u.Login, "[bot]") {
			u.Type = "Bot"
		}
	}
	api := base + "/users/" + u.Login
	return obj{
		"login":               u.Login,
		"id":                  u.ID,
		"node_id":             nodeID("User", u.ID),
		"avatar_url":          fmt.Sprintf("https://avatars.githubusercontent.com/u/%d?v=4", u.ID),
		"gravatar_id":         "",
		"url":                 api,
		"html_url":            web + "/" + u.Login,
		"followers_url":       api + "/followers",
		"following_url":       api + "/following{/other_user}",
		"gists_url":           api + "/gists{/gist_id}",
		"starred_url":         api + "/starred{/owner}{/repo}",
		"subscriptions_url":   api + "/subscriptions",
		"organizations_url":   api + "/orgs",
		"repos_url":           api + "/repos",
		"events_url":          api + "/events{/privacy}",
		"received_events_url": api + "/received_events",
		"type":                u.Type,
		"user_view_type":      "public",
		"site_admin":          false,
	}
}

func repoJSON(base string, full string, id int64, owner user, private, fork bool, defaultBranch string) obj {
	_, name, _ := strings.Cut(full, "/")
	api := base + "/repos/" + full
	host := strings.TrimPrefix(web, "https://")
	return obj{
		"id":                id,
		"node_id":           nodeID("Repository", id),
		"name":              name,
		"full_name":         full,
		"private":           private,
		"owner":             userJSON(base, owner),
		"html_url":          web + "/" + full,
		"description":       nil,
		"fork":              fork,
		"url":               api,
		"archive_url":       api + "/{archive_format}{/ref}",
		"assignees_url":     api + "/assignees{/user}",
		"blobs_url":         api + "/git/blobs{/sha}",
		"branches_url":      api + "/branches{/branch}",
		"collaborators_url": api + "/collaborators{/collaborator}",
		"comments_url":      api + "/comments{/number}",
		"commits_url":       api + "/commits{/sha}",
		"compare_url":       api + "/compare/{base}...{head}",
		"contents_url":      api + "/contents/{+path}",
		"contributors_url":  api + "/contributors",
		"deployments_url":   api + "/deployments",
		"downloads_url":     api + "/downloads",
		"events_url":        api + "/events",
		"forks_url":         api + "/forks",
		"git_commits_url":   api + "/git/commits{/sha}",
		"git_refs_url":      api + "/git/refs{/sha}",
		"git_tags_url":      api + "/git/tags{/sha}",
		"git_url":           "git://" + host + "/" + full + ".git",
		"issue_comment_url": api + "/issues/comments{/number}",
		"issue_events_url":  api + "/issues/events{/number}",
		"issues_url":        api + "/issues{/number}",
		"keys_url":          api + "/keys{/key_id}",
		"labels_url":        api + "/labels{/name}",
		"languages_url":     api + "/languages",
		"merges_url":        api + "/merges",
		"milestones_url":    api + "/milestones{/number}",
		"notifications_url": api + "/notifications{?since,all,participating}",
		"pulls_url":         api + "/pulls{/number}",
		"releases_url":      api + "/releases{/id}",
		"ssh_url":           "git@" + host + ":" + full + ".git",
		"stargazers_url":    api + "/stargazers",
		"statuses_url":      api + "/statuses/{sha}",
		"subscribers_url":   api + "/subscribers",
		"subscription_url":  api + "/subscription",
		"tags_url":          api + "/tags",
		"teams_url":         api + "/teams",
		"trees_url":         api + "/git/trees{/sha}",
		"clone_url":         web + "/" + full + ".git",
		"mirror_url":        nil,
		"hooks_url":         api + "/hooks",
		"svn_url":           web + "/" + full,
		"homepage":          nil,
		"language":          nil,
		"forks":             0,
		"forks_count":       0,
		"stargazers_count":  0,
		"watchers":          0,
		"watchers_count":    0,
		"size":              0,
		"open_issues":       0,
		"open_issues_count": 0,
		"default_branch":    defaultBranch,
		"is_template":       false,
		"topics":            []string{},
		"has_issues":        true,
		"has_projects":      true,
		"has_wiki":          true,
		"has_pages":         false,
		"has_downloads":     true,
		"has_discussions":   false,
		"archived":          false,
		"disabled":          false,
		"allow_forking":     true,
		"license":           nil,
		"visibility":        map[bool]string{true: "private", false: "public"}[private],
		"created_at":        ts(defaultEpoch.Add(-365 * 24 * time.Hour)),
		"updated_at":        ts(defaultEpoch),
		"pushed_at":         ts(defaultEpoch),
	}
}

func (r *repo) json(base string) obj {
	return repoJSON(base, r.Owner+"/"+r.Name, r.ID, r.owner(), r.Private, false, r.DefaultBranch)
}

func (r *repo) owner() user { return user{Login: r.Owner, ID: r.OwnerID, Type: r.OwnerType} }

func (r *repo) prJSON(base string, pr *PullRequest, full bool) obj {
	full_ := r.Owner + "/" + r.Name
	author := user{Login: pr.Author, Type: pr.AuthorType}
	users := func(logins []string) []obj {
		out := []obj{}
		for _, l := range logins {
			out = append(out, userJSON(base, user{Login: l}))
		}
		return out
	}
	teams, labels := r.teamsJSON(base, pr.RequestedTeams), r.labelsJSON(base, pr.Labels)
	headRepo := r.json(base)
	headOwner, headUser := r.Owner, r.owner()
	if pr.HeadRepo != "" {
		headOwner, _, _ = strings.Cut(pr.HeadRepo, "/")
		headUser = user{Login: headOwner, Type: "User"}
		headRepo = repoJSON(base, pr.HeadRepo, idFor(pr.HeadRepo), user{Login: headOwner, Type: "User"}, false, true, r.DefaultBranch)
	}
	var assignee any
	if len(pr.Assignees) > 0 {
		assignee = userJSON(base, user{Login: pr.Assignees[0]})
	}
	var closedAt, mergedAt, mergeSHA any
	if pr.State == "closed" {
		closedAt = ts(pr.UpdatedAt)
	}
	if pr.Merged {
		mergedAt = ts(pr.UpdatedAt)
		mergeSHA = fakeSHA(fmt.Sprintf("merge:%s#%d", full_, pr.Number))
	}
	api := base + "/repos/" + full_
	id := idFor(fmt.Sprintf("%s#%d", full_, pr.Number))
	o := obj{
		"url":                 fmt.Sprintf("%s/pulls/%d", api, pr.Number),
		"id":                  id,
		"node_id":             nodeID("PullRequest", id),
		"html_url":            fmt.Sprintf("%s/%s/pull/%d", web, full_, pr.Number),
		"diff_url":            fmt.Sprintf("%s/%s/pull/%d.diff", web, full_, pr.Number),
		"patch_url":           fmt.Sprintf("%s/%s/pull/%d.patch", web, full_, pr.Number),
		"issue_url":           fmt.Sprintf("%s/issues/%d", api, pr.Number),
		"commits_url":         fmt.Sprintf("%s/pulls/%d/commits", api, pr.Number),
		"comments_url":        fmt.Sprintf("%s/issues/%d/comments", api, pr.Number),
		"review_comments_url": fmt.Sprintf("%s/pulls/%d/comments", api, pr.Number),
		"review_comment_url":  api + "/pulls/comments{/number}",
		"statuses_url":        fmt.Sprintf("%s/statuses/%s", api, pr.HeadSHA),
		"number":              pr.Number,
		"state":               pr.State,
		"locked":              false,
		"title":               pr.Title,
		"user":                userJSON(base, author),
		"body":                pr.Body,
		"labels":              labels,
		"milestone":           nil,
		"active_lock_reason":  nil,
		"created_at":          ts(pr.CreatedAt),
		"updated_at":          ts(pr.UpdatedAt),
		"closed_at":           closedAt,
		"merged_at":           mergedAt,
		"merge_commit_sha":    mergeSHA,
		"assignee":            assignee,
		"assignees":           users(pr.Assignees),
		"requested_reviewers": users(pr.RequestedReviewers),
		"requested_teams":     teams,
		"head": obj{
			"label": headOwner + ":" + pr.HeadRef,
			"ref":   pr.HeadRef,
			"sha":   pr.HeadSHA,
			"user":  userJSON(base, headUser),
			"repo":  headRepo,
		},
		"base": obj{
			"label": r.Owner + ":" + pr.BaseRef,
			"ref":   pr.BaseRef,
			"sha":   pr.BaseSHA,
			"user":  userJSON(base, r.owner()),
			"repo":  r.json(base),
		},
		"_links": obj{
			"self":            obj{"href": fmt.Sprintf("%s/pulls/%d", api, pr.Number)},
			"html":            obj{"href": fmt.Sprintf("%s/%s/pull/%d", web, full_, pr.Number)},
			"issue":           obj{"href": fmt.Sprintf("%s/issues/%d", api, pr.Number)},
			"comments":        obj{"href": fmt.Sprintf("%s/issues/%d/comments", api, pr.Number)},
			"review_comments": obj{"href": fmt.Sprintf("%s/pulls/%d/comments", api, pr.Number)},
			"review_comment":  obj{"href": api + "/pulls/comments{/number}"},
			"commits":         obj{"href": fmt.Sprintf("%s/pulls/%d/commits", api, pr.Number)},
			"statuses":        obj{"href": fmt.Sprintf("%s/statuses/%s", api, pr.HeadSHA)},
		},
		"author_association": "CONTRIBUTOR",
		"auto_merge":         nil,
		"draft":              pr.Draft,
	}
	if full {
		fullPR(o, pr)
	}
	return o
}

// fullPR adds what a pull request's own read has and a listing's lacks.
func fullPR(o obj, pr *PullRequest) {
	for k, v := range map[string]any{
		"merged": pr.Merged, "mergeable": nil, "rebaseable": nil, "mergeable_state": "unknown", "merged_by": nil,
		"comments": 0, "review_comments": 0, "maintainer_can_modify": false,
		"commits": 1, "additions": 1, "deletions": 0, "changed_files": 1,
	} {
		o[k] = v
	}
}

// teamsJSON are a pull request's requested teams as GitHub lists them.
func (r *repo) teamsJSON(base string, names []string) []obj {
	teams := []obj{}
	for _, t := range names {
		id := idFor(r.Owner + "/" + t)
		api := base + "/teams/" + strconv.FormatInt(id, 10)
		teams = append(teams, obj{
			"id": id, "node_id": nodeID("Team", id), "name": t, "slug": t, "description": nil,
			"privacy": "closed", "notification_setting": "notifications_enabled", "permission": "pull",
			"url": api, "html_url": web + "/orgs/" + r.Owner + "/teams/" + t,
			"members_url": api + "/members{/member}", "repositories_url": api + "/repos",
			"type": "organization", "parent": nil,
		})
	}
	return teams
}

// labelsJSON are a pull request's labels.
func (r *repo) labelsJSON(base string, names []string) []obj {
	full := r.Owner + "/" + r.Name
	labels := []obj{}
	for _, l := range names {
		id := idFor(full + ":" + l)
		// "" rather than null: the list's schema (pull-request-simple)
		// does not allow a null description.
		labels = append(labels, obj{"id": id, "node_id": nodeID("Label", id), "url": base + "/repos/" + full + "/labels/" + url.PathEscape(l), "name": l, "color": "ededed", "default": false, "description": ""})
	}
	return labels
}

// ---- pulls and contents ----

func (s *Server) listPulls(w http.ResponseWriter, r *http.Request, _ []byte) {
	rp := s.repoOf(w, r)
	if rp == nil {
		return
	}
	state := r.URL.Query().Get("state")
	if state == "" {
		state = "open"
	}
	var prs []*PullRequest
	for _, pr := range rp.pulls {
		if state == "all" || pr.State == state {
			prs = append(prs, pr)
		}
	}
	// GitHub's default order: newest first.
	slices.SortFunc(prs, func(a, b *PullRequest) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return b.Number - a.Number
	})
	lo, hi := page(w, r, len(prs))
	out := []obj{}
	for _, pr := range prs[lo:hi] {
		out = append(out, rp.prJSON(apiBase(r), pr, false))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getPull(w http.ResponseWriter, r *http.Request, _ []byte) {
	rp := s.repoOf(w, r)
	if rp == nil {
		return
	}
	n, _ := strconv.Atoi(r.PathValue("number"))
	pr := rp.pulls[n]
	if pr == nil {
		notFound(w, "https://docs.github.com/rest/pulls/pulls#get-a-pull-request")
		return
	}
	writeJSON(w, http.StatusOK, rp.prJSON(apiBase(r), pr, true))
}

func (s *Server) getContents(w http.ResponseWriter, r *http.Request, _ []byte) {
	const doc = "https://docs.github.com/rest/repos/contents#get-repository-content"
	rp := s.repoOf(w, r)
	if rp == nil {
		return
	}
	ref := r.URL.Query().Get("ref")
	if ref == "" {
		ref = rp.DefaultBranch
	}
	files, ok := rp.filesAt(ref)
	if !ok {
		writeError(w, http.StatusNotFound, "No commit found for the ref "+ref, doc)
		return
	}
	p := strings.Trim(r.PathValue("path"), "/")
	base := apiBase(r)
	api := base + "/repos/" + rp.Owner + "/" + rp.Name
	entry := func(p string, content []byte, typ string) obj {
		sha := blobSHA(content)
		name := p[strings.LastIndex(p, "/")+1:]
		self := fmt.Sprintf("%s/contents/%s?ref=%s", api, p, ref)
		html := fmt.Sprintf("%s/%s/%s/blob/%s/%s", web, rp.Owner, rp.Name, ref, p)
		git := fmt.Sprintf("%s/git/blobs/%s", api, sha)
		o := obj{
			"type": typ, "size": len(content), "name": name, "path": p, "sha": sha,
			"url": self, "git_url": git, "html_url": html,
			"download_url": fmt.Sprintf("https://raw.githubusercontent.com/%s/%s/%s/%s", rp.Owner, rp.Name, ref, p),
			"_links":       obj{"self": self, "git": git, "html": html},
		}
		if typ == "dir" {
			o["size"] = 0
			o["download_url"] = nil
		}
		return o
	}
	if content, ok := files[p]; ok {
		o := entry(p, content, "file")
		o["encoding"] = "base64"
		o["content"] = wrap60(base64.StdEncoding.EncodeToString(content))
		writeJSON(w, http.StatusOK, o)
		return
	}
	// A directory: its direct children.
	seen := map[string]bool{}
	var list []obj
	prefix := p + "/"
	if p == "" {
		prefix = ""
	}
	var names []string
	for fp := range files {
		if strings.HasPrefix(fp, prefix) {
			names = append(names, fp)
		}
	}
	slices.Sort(names)
	for _, fp := range names {
		rest := strings.TrimPrefix(fp, prefix)
		child, _, isDir := strings.Cut(rest, "/")
		if seen[child] {
			continue
		}
		seen[child] = true
		if isDir {
			list = append(list, entry(prefix+child, nil, "dir"))
		} else {
			list = append(list, entry(fp, files[fp], "file"))
		}
	}
	if list == nil {
		notFound(w, doc)
		return
	}
	writeJSON(w, http.StatusOK, list)
}

// wrap60 breaks base64 text into lines of 60 characters, as GitHub does.
func wrap60(s string) string {
	var b strings.Builder
	for len(s) > 60 {
		b.WriteString(s[:60])
		b.WriteByte('\n')
		s = s[60:]
	}
	b.WriteString(s)
	b.WriteByte('\n')
	return b.String()
}

func blobSHA(content []byte) string {
	return fakeSHA(fmt.Sprintf("blob %d\x00%s", len(content), content))
}

// ---- issue comments ----

func (s *Server) commentJSON(base string, rp *repo, c *Comment) obj {
	full := rp.Owner + "/" + rp.Name
	kind := "issues"
	if _, ok := rp.pulls[c.Issue]; ok {
		kind = "pull"
	}
	return obj{
		"id":                       c.ID,
		"node_id":                  nodeID("IssueComment", c.ID),
		"url":                      fmt.Sprintf("%s/repos/%s/issues/comments/%d", base, full, c.ID),
		"html_url":                 fmt.Sprintf("%s/%s/%s/%d#issuecomment-%d", web, full, kind, c.Issue, c.ID),
		"body":                     c.Body,
		"user":                     userJSON(base, user{Login: c.Author, ID: s.userID(c.Author)}),
		"created_at":               ts(c.CreatedAt),
		"updated_at":               ts(c.UpdatedAt),
		"issue_url":                fmt.Sprintf("%s/repos/%s/issues/%d", base, full, c.Issue),
		"author_association":       "NONE",
		"performed_via_github_app": nil,
	}
}

func (s *Server) userID(login string) int64 {
	if login == s.actor.Login {
		return s.actor.ID
	}
	return idFor(login)
}

func (s *Server) issuesGet(w http.ResponseWriter, r *http.Request, _ []byte) {
	rp := s.repoOf(w, r)
	if rp == nil {
		return
	}
	a, b := r.PathValue("a"), r.PathValue("b")
	switch {
	case b == "comments":
		n, err := strconv.Atoi(a)
		if err != nil || rp.pulls[n] == nil {
			notFound(w, "https://docs.github.com/rest/issues/comments#list-issue-comments")
			return
		}
		var cs []*Comment
		for _, c := range rp.comments {
			if c.Issue == n {
				cs = append(cs, c)
			}
		}
		lo, hi := page(w, r, len(cs))
		out := []obj{}
		for _, c := range cs[lo:hi] {
			out = append(out, s.commentJSON(apiBase(r), rp, c))
		}
		writeJSON(w, http.StatusOK, out)
	case a == "comments":
		c := rp.comment(b)
		if c == nil {
			notFound(w, "https://docs.github.com/rest/issues/comments#get-an-issue-comment")
			return
		}
		writeJSON(w, http.StatusOK, s.commentJSON(apiBase(r), rp, c))
	default:
		s.unimplemented(w, r)
	}
}

func (rp *repo) comment(id string) *Comment {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		return nil
	}
	for _, c := range rp.comments {
		if c.ID == n {
			return c
		}
	}
	return nil
}

func (s *Server) issuesPost(w http.ResponseWriter, r *http.Request, body []byte) {
	const doc = "https://docs.github.com/rest/issues/comments#create-an-issue-comment"
	rp := s.repoOf(w, r)
	if rp == nil {
		return
	}
	if r.PathValue("b") != "comments" {
		s.unimplemented(w, r)
		return
	}
	n, err := strconv.Atoi(r.PathValue("a"))
	if err != nil || rp.pulls[n] == nil {
		notFound(w, doc)
		return
	}
	var in struct {
		Body *string `json:"body"`
	}
	if !decode(w, body, &in, doc) {
		return
	}
	if in.Body == nil || *in.Body == "" {
		writeValidation(w, doc, obj{"resource": "IssueComment", "code": "missing_field", "field": "body"})
		return
	}
	// GitHub's limit, in characters: a longer body is refused.
	if utf8.RuneCountInString(*in.Body) > maxCommentBody {
		writeValidation(w, doc, obj{"resource": "IssueComment", "code": "custom", "field": "body", "message": "Body is too long (maximum is 65536 characters)"})
		return
	}
	t := s.now()
	c := &Comment{ID: s.id(), Issue: n, Body: *in.Body, Author: s.actor.Login, CreatedAt: t, UpdatedAt: t}
	rp.comments = append(rp.comments, c)
	w.Header().Set("Location", fmt.Sprintf("%s/repos/%s/%s/issues/comments/%d", apiBase(r), rp.Owner, rp.Name, c.ID))
	writeJSON(w, http.StatusCreated, s.commentJSON(apiBase(r), rp, c))
}

func (s *Server) issuesPatch(w http.ResponseWriter, r *http.Request, body []byte) {
	const doc = "https://docs.github.com/rest/issues/comments#update-an-issue-comment"
	rp := s.repoOf(w, r)
	if rp == nil {
		return
	}
	if r.PathValue("a") != "comments" {
		s.unimplemented(w, r)
		return
	}
	c := rp.comment(r.PathValue("b"))
	if c == nil {
		notFound(w, doc)
		return
	}
	var in struct {
		Body *string `json:"body"`
	}
	if !decode(w, body, &in, doc) {
		return
	}
	if in.Body == nil || *in.Body == "" {
		writeValidation(w, doc, obj{"resource": "IssueComment", "code": "missing_field", "field": "body"})
		return
	}
	// GitHub's limit, in characters: a longer body is refused.
	if utf8.RuneCountInString(*in.Body) > maxCommentBody {
		writeValidation(w, doc, obj{"resource": "IssueComment", "code": "custom", "field": "body", "message": "Body is too long (maximum is 65536 characters)"})
		return
	}
	c.Body = *in.Body
	c.UpdatedAt = s.now()
	writeJSON(w, http.StatusOK, s.commentJSON(apiBase(r), rp, c))
}

func (s *Server) issuesDelete(w http.ResponseWriter, r *http.Request, _ []byte) {
	rp := s.repoOf(w, r)
	if rp == nil {
		return
	}
	if r.PathValue("a") != "comments" {
		s.unimplemented(w, r)
		return
	}
	c := rp.comment(r.PathValue("b"))
	if c == nil {
		notFound(w, "https://docs.github.com/rest/issues/comments#delete-an-issue-comment")
		return
	}
	rp.comments = slices.DeleteFunc(rp.comments, func(x *Comment) bool { return x == c })
	w.WriteHeader(http.StatusNoContent)
}

// ---- deployments ----

func (s *Server) deploymentJSON(base string, rp *repo, d *Deployment) obj {
	api := fmt.Sprintf("%s/repos/%s/%s", base, rp.Owner, rp.Name)
	payload := d.Payload
	if payload == nil {
		payload = obj{}
	}
	return obj{
		"url":                      fmt.Sprintf("%s/deployments/%d", api, d.ID),
		"id":                       d.ID,
		"node_id":                  nodeID("Deployment", d.ID),
		"sha":                      d.SHA,
		"ref":                      d.Ref,
		"task":                     d.Task,
		"payload":                  payload,
		"original_environment":     d.Environment,
		"environment":              d.Environment,
		"description":              d.Description,
		"creator":                  userJSON(base, user{Login: d.Creator, ID: s.userID(d.Creator)}),
		"created_at":               ts(d.CreatedAt),
		"updated_at":               ts(d.CreatedAt),
		"statuses_url":             fmt.Sprintf("%s/deployments/%d/statuses", api, d.ID),
		"repository_url":           api,
		"transient_environment":    d.TransientEnvironment,
		"production_environment":   d.ProductionEnvironment,
		"performed_via_github_app": nil,
	}
}

func (s *Server) statusJSON(base string, rp *repo, d *Deployment, st *DeploymentStatus) obj {
	api := fmt.Sprintf("%s/repos/%s/%s", base, rp.Owner, rp.Name)
	return obj{
		"url":                      fmt.Sprintf("%s/deployments/%d/statuses/%d", api, d.ID, st.ID),
		"id":                       st.ID,
		"node_id":                  nodeID("DeploymentStatus", st.ID),
		"state":                    st.State,
		"creator":                  userJSON(base, user{Login: st.Creator, ID: s.userID(st.Creator)}),
		"description":              st.Description,
		"environment":              st.Environment,
		"target_url":               st.LogURL,
		"created_at":               ts(st.CreatedAt),
		"updated_at":               ts(st.CreatedAt),
		"deployment_url":           fmt.Sprintf("%s/deployments/%d", api, d.ID),
		"repository_url":           api,
		"environment_url":          st.EnvironmentURL,
		"log_url":                  st.LogURL,
		"performed_via_github_app": nil,
	}
}

func (s *Server) listDeployments(w http.ResponseWriter, r *http.Request, _ []byte) {
	rp := s.repoOf(w, r)
	if rp == nil {
		return
	}
	q := r.URL.Query()
	var ds []*Deployment
	// GitHub lists deployments newest first.
	for i := len(rp.deployments) - 1; i >= 0; i-- {
		d := rp.deployments[i]
		if (q.Has("environment") && q.Get("environment") != d.Environment) ||
			(q.Get("sha") != "" && q.Get("sha") != d.SHA) ||
			(q.Get("ref") != "" && q.Get("ref") != d.Ref) ||
			(q.Get("task") != "" && q.Get("task") != d.Task) {
			continue
		}
		ds = append(ds, d)
	}
	lo, hi := page(w, r, len(ds))
	out := []obj{}
	for _, d := range ds[lo:hi] {
		out = append(out, s.deploymentJSON(apiBase(r), rp, d))
	}
	writeJSON(w, http.StatusOK, out)
}

func (rp *repo) deployment(id string) *Deployment {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		return nil
	}
	for _, d := range rp.deployments {
		if d.ID == n {
			return d
		}
	}
	return nil
}

func (s *Server) getDeployment(w http.ResponseWriter, r *http.Request, _ []byte) {
	rp := s.repoOf(w, r)
	if rp == nil {
		return
	}
	d := rp.deployment(r.PathValue("id"))
	if d == nil {
		notFound(w, "https://docs.github.com/rest/deployments/deployments#get-a-deployment")
		return
	}
	writeJSON(w, http.StatusOK, s.deploymentJSON(apiBase(r), rp, d))
}

func (s *Server) createDeployment(w http.ResponseWriter, r *http.Request, body []byte) {
	const doc = "https://docs.github.com/rest/deployments/deployments#create-a-deployment"
	rp := s.repoOf(w, r)
	if rp == nil {
		return
	}
	var in struct {
		Ref                   *string   `json:"ref"`
		Task                  *string   `json:"task"`
		AutoMerge             *bool     `json:"auto_merge"`
		RequiredContexts      *[]string `json:"required_contexts"`
		Payload               any       `json:"payload"`
		Environment           *string   `json:"environment"`
		Description           *string   `json:"description"`
		TransientEnvironment  *bool     `json:"transient_environment"`
		ProductionEnvironment *bool     `json:"production_environment"`
	}
	if !decode(w, body, &in, doc) {
		return
	}
	if in.Ref == nil || *in.Ref == "" {
		writeError(w, http.StatusUnprocessableEntity, "Invalid request.\n\n\"ref\" wasn't supplied.", doc)
		return
	}
	sha, ok := rp.resolve(*in.Ref)
	if !ok {
		writeError(w, http.StatusUnprocessableEntity, "No ref found for: "+*in.Ref, doc)
		return
	}
	// auto_merge defaults to true: GitHub then merges the default branch
	// into the ref when it is behind, a write to the PR's branch, and
	// answers 202 instead of creating the deployment.
	if (in.AutoMerge == nil || *in.AutoMerge) && sha != rp.branches[rp.DefaultBranch] {
		writeJSON(w, http.StatusAccepted, obj{"message": fmt.Sprintf("Auto-merged %s into %s on deployment.", rp.DefaultBranch, *in.Ref)})
		return
	}
	env := "production"
	if in.Environment != nil && *in.Environment != "" {
		env = *in.Environment
	}
	t := s.now()
	d := &Deployment{
		ID: s.id(), SHA: sha, Ref: *in.Ref, Task: "deploy", Environment: env,
		Payload: in.Payload, Creator: s.actor.Login, CreatedAt: t,
		ProductionEnvironment: env == "production",
	}
	if in.Task != nil && *in.Task != "" {
		d.Task = *in.Task
	}
	if in.Description != nil {
		d.Description = *in.Description
	}
	if in.TransientEnvironment != nil {
		d.TransientEnvironment = *in.TransientEnvironment
	}
	if in.ProductionEnvironment != nil {
		d.ProductionEnvironment = *in.ProductionEnvironment
	}
	rp.deployments = append(rp.deployments, d)
	// GitHub creates a deployment's environment when it does not exist
	// yet, with no protection at all.
	if rp.env(env) == nil {
		key := strings.ToLower(env)
		rp.envs[key] = &Environment{ID: s.id(), Name: env, CanAdminsBypass: true, CreatedAt: t, UpdatedAt: t}
		rp.envOrder = append(rp.envOrder, key)
	}
	writeJSON(w, http.StatusCreated, s.deploymentJSON(apiBase(r), rp, d))
}

func (s *Server) listStatuses(w http.ResponseWriter, r *http.Request, _ []byte) {
	rp := s.repoOf(w, r)
	if rp == nil {
		return
	}
	d := rp.deployment(r.PathValue("id"))
	if d == nil {
		notFound(w, "https://docs.github.com/rest/deployments/statuses#list-deployment-statuses")
		return
	}
	lo, hi := page(w, r, len(d.Statuses))
	out := []obj{}
	// Newest first.
	for i := len(d.Statuses) - 1 - lo; i >= len(d.Statuses)-hi; i-- {
		out = append(out, s.statusJSON(apiBase(r), rp, d, &d.Statuses[i]))
	}
	writeJSON(w, http.StatusOK, out)
}

var statusStates = []string{"error", "failure", "inactive", "in_progress", "queued", "pending", "success"}

func (s *Server) createStatus(w http.ResponseWriter, r *http.Request, body []byte) {
	const doc = "https://docs.github.com/rest/deployments/statuses#create-a-deployment-status"
	rp := s.repoOf(w, r)
	if rp == nil {
		return
	}
	d := rp.deployment(r.PathValue("id"))
	if d == nil {
		notFound(w, doc)
		return
	}
	var in struct {
		State          string  `json:"state"`
		TargetURL      *string `json:"target_url"`
		LogURL         *string `json:"log_url"`
		Description    *string `json:"description"`
		Environment    *string `json:"environment"`
		EnvironmentURL *string `json:"environment_url"`
		AutoInactive   *bool   `json:"auto_inactive"`
	}
	if !decode(w, body, &in, doc) {
		return
	}
	if !slices.Contains(statusStates, in.State) {
		writeValidation(w, doc, obj{"resource": "DeploymentStatus", "code": "invalid", "field": "state"})
		return
	}
	st := DeploymentStatus{ID: s.id(), State: in.State, Environment: d.Environment, Creator: s.actor.Login, CreatedAt: s.now()}
	if in.Description != nil {
		st.Description = *in.Description
	}
	if in.TargetURL != nil {
		st.LogURL = *in.TargetURL
	}
	if in.LogURL != nil {
		st.LogURL = *in.LogURL
	}
	if in.EnvironmentURL != nil {
		st.EnvironmentURL = *in.EnvironmentURL
	}
	if in.Environment != nil && *in.Environment != "" {
		d.Environment = *in.Environment
		st.Environment = *in.Environment
	}
	d.Statuses = append(d.Statuses, st)
	// auto_inactive (default true): a success marks earlier deployments to
	// the same environment inactive, but only non-transient,
	// non-production ones.
	if st.State == "success" && (in.AutoInactive == nil || *in.AutoInactive) {
		for _, old := range rp.deployments {
			if old.ID < d.ID && old.Environment == d.Environment && !old.TransientEnvironment && !old.ProductionEnvironment &&
				(len(old.Statuses) == 0 || old.Statuses[len(old.Statuses)-1].State != "inactive") {
				old.Statuses = append(old.Statuses, DeploymentStatus{ID: s.id(), State: "inactive", Environment: old.Environment, Creator: s.actor.Login, CreatedAt: st.CreatedAt})
			}
		}
	}
	writeJSON(w, http.StatusCreated, s.statusJSON(apiBase(r), rp, d, &d.Statuses[len(d.Statuses)-1]))
}

// ---- environments and branch policies ----

func (s *Server) envJSON(base string, rp *repo, e *Environment) obj {
	full := rp.Owner + "/" + rp.Name
	rules := []obj{}
	if e.WaitTimer > 0 {
		id := idFor(fmt.Sprintf("%d:wait", e.ID))
		rules = append(rules, obj{"id": id, "node_id": nodeID("Gate", id), "type": "wait_timer", "wait_timer": e.WaitTimer})
	}
	if len(e.Reviewers) > 0 {
		id := idFor(fmt.Sprintf("%d:reviewers", e.ID))
		reviewers := []obj{}
		for _, r := range e.Reviewers {
			reviewers = append(reviewers, obj{"type": "User", "reviewer": userJSON(base, user{Login: fmt.Sprintf("reviewer-%d", r.ID), ID: r.ID})})
		}
		rules = append(rules, obj{"id": id, "node_id": nodeID("Gate", id), "type": "required_reviewers", "prevent_self_review": e.PreventSelfReview, "reviewers": reviewers})
	}
	var policy any
	if e.BranchPolicy != nil {
		policy = obj{"protected_branches": e.BranchPolicy.ProtectedBranches, "custom_branch_policies": e.BranchPolicy.CustomBranchPolicies}
		id := idFor(fmt.Sprintf("%d:branch", e.ID))
		rules = append(rules, obj{"id": id, "node_id": nodeID("Gate", id), "type": "branch_policy"})
	}
	return obj{
		"id":                       e.ID,
		"node_id":                  nodeID("Environment", e.ID),
		"name":                     e.Name,
		"url":                      fmt.Sprintf("%s/repos/%s/environments/%s", base, full, e.Name),
		"html_url":                 fmt.Sprintf("%s/%s/deployments/activity_log?environments_filter=%s", web, full, e.Name),
		"created_at":               ts(e.CreatedAt),
		"updated_at":               ts(e.UpdatedAt),
		"can_admins_bypass":        e.CanAdminsBypass,
		"protection_rules":         rules,
		"deployment_branch_policy": policy,
	}
}

func (rp *repo) env(name string) *Environment { return rp.envs[strings.ToLower(name)] }

func (s *Server) getEnv(w http.ResponseWriter, r *http.Request, _ []byte) {
	rp := s.repoOf(w, r)
	if rp == nil {
		return
	}
	e := rp.env(r.PathValue("env"))
	if e == nil {
		notFound(w, "https://docs.github.com/rest/deployments/environments#get-an-environment")
		return
	}
	writeJSON(w, http.StatusOK, s.envJSON(apiBase(r), rp, e))
}

func (s *Server) putEnv(w http.ResponseWriter, r *http.Request, body []byte) {
	const doc = "https://docs.github.com/rest/deployments/environments#create-or-update-an-environment"
	rp := s.repoOf(w, r)
	if rp == nil {
		return
	}
	name := r.PathValue("env")
	// GitHub keeps what a request leaves out: the fields are decoded raw
	// to tell an absent one from null.
	var in map[string]json.RawMessage
	if !decode(w, body, &in, doc) {
		return
	}
	var setting *BranchPolicySetting
	raw, hasPolicy := in["deployment_branch_policy"]
	if hasPolicy && string(raw) != "null" {
		var p struct {
			ProtectedBranches    *bool `json:"protected_branches"`
			CustomBranchPolicies *bool `json:"custom_branch_policies"`
		}
		if json.Unmarshal(raw, &p) != nil || p.ProtectedBranches == nil || p.CustomBranchPolicies == nil {
			writeError(w, http.StatusUnprocessableEntity, "Invalid request.\n\n\"protected_branches\" and \"custom_branch_policies\" are both required.", doc)
			return
		}
		if *p.ProtectedBranches == *p.CustomBranchPolicies {
			writeError(w, http.StatusUnprocessableEntity, "Invalid request.\n\nExactly one of protected_branches and custom_branch_policies must be true.", doc)
			return
		}
		setting = &BranchPolicySetting{ProtectedBranches: *p.ProtectedBranches, CustomBranchPolicies: *p.CustomBranchPolicies}
	}
	var waitTimer *int
	if raw, ok := in["wait_timer"]; ok {
		var n int
		if json.Unmarshal(raw, &n) != nil || n < 0 || n > 43200 {
			writeValidation(w, doc, obj{"resource": "Environment", "code": "invalid", "field": "wait_timer"})
			return
		}
		waitTimer = &n
	}
	var reviewers *[]Reviewer
	if raw, ok := in["reviewers"]; ok {
		var rs []Reviewer
		if string(raw) != "null" {
			var list []struct {
				Type string `json:"type"`
				ID   int64  `json:"id"`
			}
			if json.Unmarshal(raw, &list) != nil || len(list) > 6 {
				writeValidation(w, doc, obj{"resource": "Environment", "code": "invalid", "field": "reviewers"})
				return
			}
			for _, r := range list {
				rs = append(rs, Reviewer{Type: r.Type, ID: r.ID})
			}
		}
		reviewers = &rs
	}
	t := s.now()
	e := rp.env(name)
	if e == nil {
		e = &Environment{ID: s.id(), Name: name, CanAdminsBypass: true, CreatedAt: t}
		key := strings.ToLower(name)
		rp.envs[key] = e
		rp.envOrder = append(rp.envOrder, key)
	}
	e.UpdatedAt = t
	if hasPolicy {
		e.BranchPolicy = setting
		if setting == nil || !setting.CustomBranchPolicies {
			e.Policies = nil // custom policies only exist while the setting is on
		}
	}
	if waitTimer != nil {
		e.WaitTimer = *waitTimer
	}
	if reviewers != nil {
		e.Reviewers = *reviewers
	}
	if raw, ok := in["prevent_self_review"]; ok {
		json.Unmarshal(raw, &e.PreventSelfReview)
	}
	writeJSON(w, http.StatusOK, s.envJSON(apiBase(r), rp, e))
}

func (s *Server) deleteEnv(w http.ResponseWriter, r *http.Request, _ []byte) {
	rp := s.repoOf(w, r)
	if rp == nil {
		return
	}
	key := strings.ToLower(r.PathValue("env"))
	if rp.envs[key] == nil {
		notFound(w, "https://docs.github.com/rest/deployments/environments#delete-an-environment")
		return
	}
	delete(rp.envs, key)
	rp.envOrder = slices.DeleteFunc(rp.envOrder, func(k string) bool { return k == key })
	w.WriteHeader(http.StatusNoContent)
}

func policyJSON(p BranchPolicy) obj {
	return obj{"id": p.ID, "node_id": nodeID("GateBranchPolicy", p.ID), "name": p.Name, "type": p.Type}
}

// customEnv returns the environment when it has custom branch policies on;
// GitHub answers 404 otherwise.
func (s *Server) customEnv(w http.ResponseWriter, r *http.Request, doc string) (*repo, *Environment) {
	rp := s.repoOf(w, r)
	if rp == nil {
		return nil, nil
	}
	e := rp.env(r.PathValue("env"))
	if e == nil || e.BranchPolicy == nil || !e.BranchPolicy.CustomBranchPolicies {
		notFound(w, doc)
		return nil, nil
	}
	return rp, e
}

func (s *Server) listPolicies(w http.ResponseWriter, r *http.Request, _ []byte) {
	_, e := s.customEnv(w, r, "https://docs.github.com/rest/deployments/branch-policies#list-deployment-branch-policies")
	if e == nil {
		return
	}
	lo, hi := page(w, r, len(e.Policies))
	out := []obj{}
	for _, p := range e.Policies[lo:hi] {
		out = append(out, policyJSON(p))
	}
	writeJSON(w, http.StatusOK, obj{"total_count": len(e.Policies), "branch_policies": out})
}

func (s *Server) createPolicy(w http.ResponseWriter, r *http.Request, body []byte) {
	const doc = "https://docs.github.com/rest/deployments/branch-policies#create-a-deployment-branch-policy"
	rp, e := s.customEnv(w, r, doc)
	if e == nil {
		return
	}
	var in struct {
		Name *string `json:"name"`
		Type *string `json:"type"`
	}
	if !decode(w, body, &in, doc) {
		return
	}
	if in.Name == nil || *in.Name == "" {
		writeError(w, http.StatusUnprocessableEntity, "Invalid request.\n\n\"name\" wasn't supplied.", doc)
		return
	}
	typ := "branch"
	if in.Type != nil {
		typ = *in.Type
	}
	if typ != "branch" && typ != "tag" {
		writeError(w, http.StatusUnprocessableEntity, "Invalid request.\n\n"+strconv.Quote(typ)+" is not a member of [\"branch\", \"tag\"].", doc)
		return
	}
	for _, p := range e.Policies {
		if p.Name == *in.Name && p.Type == typ {
			// GitHub: 303 See Other when the same pattern exists.
			w.Header().Set("Location", fmt.Sprintf("%s/repos/%s/%s/environments/%s/deployment-branch-policies/%d", apiBase(r), rp.Owner, rp.Name, e.Name, p.ID))
			w.WriteHeader(http.StatusSeeOther)
			return
		}
	}
	p := BranchPolicy{ID: s.id(), Name: *in.Name, Type: typ}
	e.Policies = append(e.Policies, p)
	e.UpdatedAt = s.now()
	writeJSON(w, http.StatusOK, policyJSON(p))
}

func (e *Environment) policy(id string) int {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		return -1
	}
	return slices.IndexFunc(e.Policies, func(p BranchPolicy) bool { return p.ID == n })
}

func (s *Server) getPolicy(w http.ResponseWriter, r *http.Request, _ []byte) {
	const doc = "https://docs.github.com/rest/deployments/branch-policies#get-a-deployment-branch-policy"
	_, e := s.customEnv(w, r, doc)
	if e == nil {
		return
	}
	i := e.policy(r.PathValue("id"))
	if i < 0 {
		notFound(w, doc)
		return
	}
	writeJSON(w, http.StatusOK, policyJSON(e.Policies[i]))
}

func (s *Server) updatePolicy(w http.ResponseWriter, r *http.Request, body []byte) {
	const doc = "https://docs.github.com/rest/deployments/branch-policies#update-a-deployment-branch-policy"
	_, e := s.customEnv(w, r, doc)
	if e == nil {
		return
	}
	i := e.policy(r.PathValue("id"))
	if i < 0 {
		notFound(w, doc)
		return
	}
	var in struct {
		Name *string `json:"name"`
	}
	if !decode(w, body, &in, doc) {
		return
	}
	if in.Name == nil || *in.Name == "" {
		writeError(w, http.StatusUnprocessableEntity, "Invalid request.\n\n\"name\" wasn't supplied.", doc)
		return
	}
	e.Policies[i].Name = *in.Name
	writeJSON(w, http.StatusOK, policyJSON(e.Policies[i]))
}

func (s *Server) deletePolicy(w http.ResponseWriter, r *http.Request, _ []byte) {
	const doc = "https://docs.github.com/rest/deployments/branch-policies#delete-a-deployment-branch-policy"
	_, e := s.customEnv(w, r, doc)
	if e == nil {
		return
	}
	i := e.policy(r.PathValue("id"))
	if i < 0 {
		notFound(w, doc)
		return
	}
	e.Policies = slices.Delete(e.Policies, i, i+1)
	w.WriteHeader(http.StatusNoContent)
}
