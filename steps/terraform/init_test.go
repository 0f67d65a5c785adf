package terraform

import "testing"

// Whether init installs providers decides whether it takes the plugin cache's
// lock (see init).
func TestUsesProviders(t *testing.T) {
	const builtin = `resource "terraform_data" "a" {}
data "terraform_remote_state" "b" {
  backend = "local"
}
variable "v" {}
output "o" { value = terraform_data.a.id }
`
	const backend = `{"terraform": {"backend": {"s3": {"bucket": "b", "key": "k", "use_lockfile": true}}}}`
	tests := []struct {
		name  string
		files map[string]string
		want  bool
	}{
		{"built-in resources only", map[string]string{"main.tf": builtin, "zz_stack_backend.tf.json": backend}, false},
		{"no resources", map[string]string{"main.tf": `variable "v" {}`}, false},
		{"a resource without required_providers", map[string]string{"main.tf": builtin + `resource "null_resource" "n" {}`}, true},
		{"a data source", map[string]string{"main.tf": `data "aws_caller_identity" "me" {}`}, true},
		{"a resource on an aliased provider", map[string]string{"main.tf": `resource "random_id" "r" {
  provider    = random.other
  byte_length = 4
}`}, true},
		{"a provider block alone", map[string]string{"main.tf": `provider "aws" { region = "eu-west-1" }`}, true},
		{"required_providers alone", map[string]string{"versions.tf": `terraform {
  required_providers {
    random = { source = "hashicorp/random" }
  }
}`}, true},
		{"required_providers naming the built-in one", map[string]string{"versions.tf": `terraform {
  required_providers {
    terraform = { source = "terraform.io/builtin/terraform" }
  }
}`, "main.tf": builtin}, false},
		{"a provider named terraform from a registry", map[string]string{"versions.tf": `terraform {
  required_providers {
    terraform = { source = "example/terraform" }
  }
}`}, true},
		{"commented out", map[string]string{"main.tf": builtin + "# resource \"aws_s3_bucket\" \"b\" {}\n"}, false},
		{"JSON resources", map[string]string{"main.tf.json": `{"resource": {"aws_s3_bucket": {"b": {}}}}`}, true},
		{"a module call, whose providers init may install", map[string]string{"main.tf": `module "asg" { source = "../internal/asg" }`}, true},
		{"JSON built-in resources", map[string]string{"main.tf.json": `{"resource": {"terraform_data": {"a": {}}}}`}, false},
		{"unreadable", map[string]string{"main.tf": `resource "terraform_data" "a" {`}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := usesProviders(writeModule(t, tt.files)); got != tt.want {
				t.Errorf("usesProviders = %v, want %v", got, tt.want)
			}
		})
	}
}
