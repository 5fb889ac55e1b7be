module iqqq.invalid/bench/goref

go 1.19
