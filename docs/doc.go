// Package docs holds callbid's API specifications (openapi.yaml). It has no
// code: its test parses the document and checks the running handlers'
// requests and answers against it.
package docs
