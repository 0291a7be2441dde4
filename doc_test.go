package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// TestDocComments requires a package comment in every package and a doc
// comment, starting with the name, on every exported declaration: the code
// must be understood without the issues it came from.
func TestDocComments(t *testing.T) {
	dirs := map[string]bool{}
	filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, "_test.go") &&
			!strings.HasSuffix(path, ".pb.go") && !strings.HasPrefix(path, ".") {
			dirs[filepath.Dir(path)] = true
		}
		return nil
	})
	if len(dirs) < 5 {
		t.Fatalf("found only %d packages", len(dirs))
	}
	for dir := range dirs {
		fset := token.NewFileSet()
		pkgs, err := parser.ParseDir(fset, dir, func(fi fs.FileInfo) bool {
			return !strings.HasSuffix(fi.Name(), "_test.go") && !strings.HasSuffix(fi.Name(), ".pb.go")
		}, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		for _, pkg := range pkgs {
			hasDoc := false
			for name, f := range pkg.Files {
				hasDoc = hasDoc || f.Doc != nil
				checkDecls(t, fset, name, f)
			}
			if !hasDoc {
				t.Errorf("package %s (%s) has no package comment", pkg.Name, dir)
			}
		}
	}
}

func checkDecls(t *testing.T, fset *token.FileSet, file string, f *ast.File) {
	t.Helper()
	need := func(name string, doc *ast.CommentGroup, pos token.Pos) {
		if !ast.IsExported(name) {
			return
		}
		if doc == nil {
			t.Errorf("%s: %s has no doc comment", fset.Position(pos), name)
		}
	}
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *ast.FuncDecl:
			if d.Recv != nil && !exportedRecv(d.Recv) {
				continue
			}
			need(d.Name.Name, d.Doc, d.Pos())
		case *ast.GenDecl:
			for _, s := range d.Specs {
				switch s := s.(type) {
				case *ast.TypeSpec:
					doc := s.Doc
					if doc == nil && len(d.Specs) == 1 {
						doc = d.Doc
					}
					need(s.Name.Name, doc, s.Pos())
				case *ast.ValueSpec:
					// A group of constants or variables may share the
					// group's comment.
					doc := s.Doc
					if doc == nil {
						doc = d.Doc
					}
					if doc == nil && s.Comment != nil {
						doc = s.Comment
					}
					for _, n := range s.Names {
						need(n.Name, doc, n.Pos())
					}
				}
			}
		}
	}
}

func exportedRecv(fl *ast.FieldList) bool {
	if len(fl.List) == 0 {
		return false
	}
	typ := fl.List[0].Type
	if st, ok := typ.(*ast.StarExpr); ok {
		typ = st.X
	}
	if ix, ok := typ.(*ast.IndexExpr); ok {
		typ = ix.X
	}
	id, ok := typ.(*ast.Ident)
	return ok && ast.IsExported(id.Name)
}
