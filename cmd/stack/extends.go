package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/pflag"

	"github.com/stack-tools/stack/definition"
	"github.com/stack-tools/stack/steps/generator"
	"github.com/stack-tools/stack/stores/s3store"
)

func addExplainFlag(f *pflag.FlagSet, explain *bool) {
	f.BoolVar(explain, "explain", false, "print the definition merged through \"extends\", each value with the file that set it")
}

// explain prints the merged definition with where each value came from.
func explain(w io.Writer, def *definition.Definition) {
	fmt.Fprintf(w, "# %s merged through \"extends\"; each value with the file that set it\n", def.File)
	def.Explain(w)
	fmt.Fprintln(w)
}

// loadDefinition reads a definition and the files it extends, s3:// ones too.
func loadDefinition(file string) (*definition.Definition, error) {
	return definition.Load(context.Background(), file, definition.LoadOptions{Fetch: fetchS3, PathFields: generator.PathFields()})
}

// fetchS3 reads a definition an "extends" names as s3://BUCKET/KEY, with the
// AWS configuration the S3 store uses.
func fetchS3(ctx context.Context, url string) ([]byte, error) {
	bucket, key, err := s3store.ParseURL(url)
	if err != nil || key == "" {
		return nil, fmt.Errorf("want s3://BUCKET/KEY: %s", url)
	}
	st, err := s3store.Open(ctx, "s3://"+bucket)
	if err != nil {
		return nil, err
	}
	data, _, err := st.Get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", url, err)
	}
	return data, nil
}
