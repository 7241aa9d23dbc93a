module example.com/newapp

go 1.26
