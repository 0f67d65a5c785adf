// Command minio runs a MinIO server for bench/dag (internal/testenv's, on
// 127.0.0.1 with one bucket), prints the environment that reaches it as
// NAME=value lines followed by STACK_BUCKET=bucket, and stops it on SIGTERM or
// SIGINT.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/stack-tools/stack/internal/testenv"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: minio DATA-DIR")
		os.Exit(2)
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	m, err := testenv.StartMinio(os.Args[1])
	if err != nil {
		fmt.Fprintf(os.Stderr, "minio: %v\n", err)
		os.Exit(1)
	}
	for _, kv := range m.Env() {
		fmt.Println(kv)
	}
	fmt.Println("STACK_BUCKET=" + m.Bucket)
	<-sigs
	_ = m.Stop()
}
