// Command package writes the functions' source zip that Cloud Build
// deploys: go.mod, go.sum, and the files of exactly the packages the
// functions are built from (the root package and what it imports from
// this module), their embedded assets included, without tests. Test
// helpers, the dev stack, the bench and the docs are not in it.
//
// Fixed timestamps and modes: the same source gives the same zip, hence
// the same object name, hence no redeploy.
//
//	go run ./scripts/package -out .deploy/function-source.zip
package main

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"time"
)

func main() {
	out := flag.String("out", ".deploy/function-source.zip", "where to write the zip")
	flag.Parse()
	files, err := sourceFiles(".")
	if err != nil {
		log.Fatal(err)
	}
	if err := writeZip(*out, ".", files); err != nil {
		log.Fatal(err)
	}
	info, err := os.Stat(*out)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s: %d files, %d bytes\n", *out, len(files), info.Size())
}

// listedPackage is what `go list -json` tells of a package.
type listedPackage struct {
	ImportPath string
	Dir        string
	GoFiles    []string
	EmbedFiles []string
	Module     *struct{ Path, Dir string }
}

// sourceFiles returns the files the functions are built from, relative to
// the module root, sorted.
func sourceFiles(root string) ([]string, error) {
	cmd := exec.Command("go", "list", "-deps", "-json", ".")
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	data, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list: %w\n%s", err, stderr.Bytes())
	}
	files := []string{"go.mod", "go.sum"}
	dec := json.NewDecoder(bytes.NewReader(data))
	for {
		var p listedPackage
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("go list: %w", err)
		}
		if p.Module == nil || p.Module.Dir == "" {
			continue // the standard library, or another module's package
		}
		modRoot, err := filepath.Abs(p.Module.Dir)
		if err != nil {
			return nil, err
		}
		if abs, _ := filepath.Abs(root); abs != modRoot {
			continue // a dependency's package, fetched by the build
		}
		for _, f := range slices.Concat(p.GoFiles, p.EmbedFiles) {
			rel, err := filepath.Rel(modRoot, filepath.Join(p.Dir, f))
			if err != nil {
				return nil, err
			}
			files = append(files, filepath.ToSlash(rel))
		}
	}
	slices.Sort(files)
	return slices.Compact(files), nil
}

// writeZip writes files, read under root, to out.
func writeZip(out, root string, files []string) error {
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	z := zip.NewWriter(f)
	for _, name := range files {
		data, err := os.ReadFile(filepath.Join(root, name))
		if err != nil {
			return err
		}
		h := &zip.FileHeader{Name: name, Method: zip.Deflate, Modified: time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)}
		h.SetMode(0o644)
		w, err := z.CreateHeader(h)
		if err != nil {
			return err
		}
		if _, err := w.Write(data); err != nil {
			return err
		}
	}
	if err := z.Close(); err != nil {
		return err
	}
	return f.Close()
}
