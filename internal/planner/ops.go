package planner

// The operations a change's Op holds: data, which internal/apply carries
// out. Role names and ARNs are the validated desired ones.

// PolicyName is the name of the inline policy the tool writes.
const PolicyName = "preview-access"

// IAM.
type (
	CreateRole struct {
		Name, Path, Description string
		Trust                   string
		MaxSession              int32
		Boundary                string // "" = none
		Tags                    map[string]string
	}
	UpdateRole struct {
		Name        string
		MaxSession  int32
		Description string
	}
	UpdateTrust struct{ Name, Document string }
	PutBoundary struct{ Name, ARN string }
	TagRole     struct {
		Name string
		Tags map[string]string
	}
	UntagRole struct {
		Name string
		Keys []string
	}
	PutPolicy    struct{ Name, Document string }
	DeletePolicy struct{ Name string }
	AttachPolicy struct{ Name, ARN string }
	DetachPolicy struct{ Name, ARN string }
	DeleteRole   struct{ Name string }
	// WaitForRole waits until IAM returns a role just created.
	WaitForRole struct{ Name string }
)

// GitHub.
type (
	EnsureEnvironment struct{ Name, Ref string }
	// DeleteEnvironment deletes an environment; with Optional a token
	// that may not is a notice (the environment protects nothing).
	DeleteEnvironment struct {
		Name     string
		Optional bool
	}
	CreateDeployment struct{ Environment, SHA string }
	// SetDeploymentStatus posts a status to deployment ID, or to the one
	// the change Created made.
	SetDeploymentStatus struct {
		ID         int64
		Created    string // the ID of the CreateDeployment change
		State, URL string
	}
	DeactivateDeployments struct{ IDs []int64 }
	// WriteComment creates the sticky comment (Existing 0) or edits it.
	WriteComment struct {
		Number   int
		Existing int64
		Marker   string
		Body     string
	}
	DeleteComment struct{ ID int64 }
)

// Gateway.
type (
	PutDocument struct {
		ID, Kind string
		Document []byte
	}
	DeleteDocument struct{ ID, Kind string }
	// InstallModule installs this version's module; Exists says one is
	// there already (a token that may not replace it only warns then).
	InstallModule struct{ Exists bool }
)
