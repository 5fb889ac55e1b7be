module iqqq.invalid/bench/webhookload

go 1.19
