package terraform

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"maps"
	"math/big"
	"os"
	"path/filepath"
	"time"

	"github.com/stack-tools/stack/steps/terraform/tfbackend"
)

// The AWS SDK in Terraform's s3 backend loads the CA bundle AWS_CA_BUNDLE names
// twice in every run, whether or not the backend makes a TLS connection: with
// a system bundle of 140 certificates that is about 15 ms of CPU per Terraform
// process (docs/benchmarks.md), in every step's critical path. A backend that
// opens no TLS connection (tfbackend.Backend.NoTLSCABundleAttr) gets a bundle
// of one certificate instead, whose key was never kept: if a connection did
// use TLS after all, it would fail to verify rather than trust anything.

// noTLSBundleFile is the bundle, in the kind's cache.
const noTLSBundleFile = "no-tls-ca.pem"

// withNoTLSBundle returns b with the one-certificate bundle set, when b opens
// no TLS connection and the environment names a bundle Terraform would load.
func (k *Kind) withNoTLSBundle(b tfbackend.Backend) tfbackend.Backend {
	if b.NoTLSCABundleAttr == "" || os.Getenv("AWS_CA_BUNDLE") == "" {
		return b
	}
	k.bundleOnce.Do(func() { k.bundle = k.noTLSBundle() })
	if k.bundle == "" {
		return b // the machine's bundle works too, only slower
	}
	cfg := maps.Clone(b.Config)
	cfg[b.NoTLSCABundleAttr] = k.bundle
	b.Config = cfg
	return b
}

// noTLSBundle returns the path of the one-certificate bundle, writing it if
// the cache has none, or "" if it cannot be written.
func (k *Kind) noTLSBundle() string {
	path := filepath.Join(k.CacheDir, noTLSBundleFile)
	if data, err := os.ReadFile(path); err == nil {
		if block, _ := pem.Decode(data); block != nil {
			if _, err := x509.ParseCertificate(block.Bytes); err == nil {
				return path
			}
		}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return ""
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "stack: no TLS expected (state store over plain HTTP)"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(30, 0, 0),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return ""
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return ""
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), noTLSBundleFile+".*")
	if err != nil {
		return ""
	}
	defer os.Remove(tmp.Name())
	werr := pem.Encode(tmp, &pem.Block{Type: "CERTIFICATE", Bytes: der})
	if cerr := tmp.Close(); werr != nil || cerr != nil {
		return ""
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return ""
	}
	return path
}
