module github.com/tongbao/tongbao

go 1.26.8

require (
	github.com/mattn/go-sqlite3 v1.14.53
	pgregory.net/rapid v1.3.0
)
