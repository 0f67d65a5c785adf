package engine_test

import "time"

func waitABit() { time.Sleep(20 * time.Millisecond) }
