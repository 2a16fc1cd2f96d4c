package main

import "github.com/dapr/dapr/cmd/daprd/app"

func main() { app.Run() }
