module example.com/oldapp

go 1.21
