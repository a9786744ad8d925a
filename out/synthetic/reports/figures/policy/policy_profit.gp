# Rendered by the pipeline; re-render with: gnuplot policy_profit.gp
set terminal pngcairo size 900,620 font "DejaVu Sans,10" noenhanced
set output "policy_profit.png"
set encoding utf8
set title "Profit of each policy on the test split: the model's expectation vs the held-out estimate"
set ylabel "profit"
set style fill solid 0.6
set boxwidth 0.35
set xtics rotate by -25
set grid ytics
set key top left
plot 'policy_profit.dat' using ($1-0.2):3:xtic(2) with boxes lc rgb "#4C72B0" title "model's expectation", \
     '' using ($1+0.2):4 with boxes lc rgb "#DD8452" title "held-out (doubly robust)", \
     '' using ($1+0.2):4:5:6 with yerrorbars lc rgb "#333333" pt 0 title "95% CI"
unset output
