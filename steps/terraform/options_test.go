package terraform

import (
	"reflect"
	"testing"

	"github.com/hashicorp/terraform-exec/tfexec"
)

// The flags each command gets. terraform-exec turns the options into argv
// (TestCommandLines checks what reaches Terraform).
func TestInitOptions(t *testing.T) {
	want := []tfexec.InitOption{tfexec.Reconfigure(true), tfexec.Upgrade(false)}
	if got := initOptions(); !reflect.DeepEqual(got, want) {
		t.Errorf("initOptions() = %#v, want %#v", got, want)
	}
}

func TestApplyOptions(t *testing.T) {
	tests := []struct {
		name        string
		fresh, ours bool
		varFile     string
		want        []tfexec.ApplyOption
	}{
		{"state with resources, no secrets", false, false, "", nil},
		{"empty state: no refresh", true, false, "", []tfexec.ApplyOption{tfexec.Refresh(false)}},
		{"a workspace this command created: no refresh, no lock", true, true, "", []tfexec.ApplyOption{tfexec.Refresh(false), tfexec.Lock(false)}},
		{"secrets", false, false, "/w/sensitive.tfvars.json", []tfexec.ApplyOption{tfexec.VarFile("/w/sensitive.tfvars.json")}},
		{"both", true, false, "/w/s.json", []tfexec.ApplyOption{tfexec.Refresh(false), tfexec.VarFile("/w/s.json")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := applyOptions(tt.fresh, tt.ours, tt.varFile); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("applyOptions(%v, %v, %q) = %#v, want %#v", tt.fresh, tt.ours, tt.varFile, got, tt.want)
			}
		})
	}
}

func TestDestroyOptions(t *testing.T) {
	if got := destroyOptions(""); got != nil {
		t.Errorf("destroyOptions(\"\") = %#v, want none", got)
	}
	want := []tfexec.DestroyOption{tfexec.VarFile("/w/s.json")}
	if got := destroyOptions("/w/s.json"); !reflect.DeepEqual(got, want) {
		t.Errorf("destroyOptions = %#v, want %#v", got, want)
	}
	var none *secretPipe
	if none.varFile() != "" {
		t.Error("no secrets, yet a -var-file")
	}
}
