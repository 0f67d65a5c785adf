package terraform

// planMessage is one line of `terraform plan -json` (Terraform's machine-readable
// UI), as stack plan and the reconcile of an interrupted step read it.
type planMessage struct {
	Message string `json:"@message"`
	Type    string `json:"type"`
	Change  struct {
		Resource struct {
			Addr string `json:"addr"`
		} `json:"resource"`
		Action string `json:"action"`
		Reason string `json:"reason"`
	} `json:"change"`
	Changes struct {
		Add    int `json:"add"`
		Change int `json:"change"`
		Remove int `json:"remove"`
	} `json:"changes"`
	Diag struct {
		Severity string `json:"severity"`
		Summary  string `json:"summary"`
		Detail   string `json:"detail"`
	} `json:"diagnostic"`
}
